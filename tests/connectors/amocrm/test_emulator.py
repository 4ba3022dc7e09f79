"""The amoCRM emulator against contracts/crm.md."""

from urllib.parse import parse_qsl

import pytest
import requests

from connectors.amocrm.emulator import AmoCRMEmulator
from connectors.base.emulator import RunningEmulator


@pytest.fixture
def amo():
    with RunningEmulator(AmoCRMEmulator(per_token_limit=7, account_limit=50, block_after=5)) as running:
        yield running


def _token(amo, **extra):
    creds = amo.app.state()["credentials"]
    body = {"client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "redirect_uri": creds["redirect_uri"], **extra}
    return requests.post(f"{amo.url}/oauth2/access_token", json=body, timeout=5)


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_oauth_code_then_single_use_refresh_and_long_lived_token(amo):
    creds = amo.app.state()["credentials"]
    first = _token(amo, grant_type="authorization_code", code=creds["authorization_code"]).json()
    assert first["token_type"] == "Bearer" and first["refresh_token"]
    second = _token(amo, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    reused = _token(amo, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.status_code == 400 and "revoked" in reused.json()["detail"]
    assert reused.headers["Content-Type"].startswith("application/problem+json")
    ok = requests.get(f"{amo.url}/api/v4/leads/pipelines", headers=_auth(creds["long_lived_token"]), timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"].startswith("application/hal+json")
    assert requests.get(f"{amo.url}/api/v4/contacts", timeout=5).status_code == 401


def test_contacts_batch_create_update_paging_and_validation(amo):
    token = amo.app.state()["credentials"]["long_lived_token"]
    items = [{"name": f"Клиент {n}", "request_id": f"r{n}",
              "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": f"+7912000000{n}",
                                                                          "enum_code": "MOB"}]}]}
             for n in range(3)]
    created = requests.post(f"{amo.url}/api/v4/contacts", json=items, headers=_auth(token), timeout=5).json()
    rows = created["_embedded"]["contacts"]
    assert [r["request_id"] for r in rows] == ["r0", "r1", "r2"]
    patched = requests.patch(f"{amo.url}/api/v4/contacts", json=[{"id": rows[0]["id"], "name": "Новое имя"}],
                             headers=_auth(token), timeout=5)
    assert patched.status_code == 200
    page = requests.get(f"{amo.url}/api/v4/contacts", params={"limit": 2}, headers=_auth(token), timeout=5).json()
    assert len(page["_embedded"]["contacts"]) == 2 and "next" in page["_links"]
    empty = requests.get(f"{amo.url}/api/v4/contacts", params={"limit": 2, "page": 9}, headers=_auth(token),
                         timeout=5)
    assert empty.status_code == 204 and empty.content == b""
    bad = requests.post(f"{amo.url}/api/v4/contacts", headers=_auth(token), timeout=5,
                        json=[{"name": "x", "request_id": "bad", "custom_fields_values": [{"field_id": 999}]}])
    assert bad.status_code == 400
    assert bad.json()["validation-errors"][0]["request_id"] == "bad"
    too_many = requests.post(f"{amo.url}/api/v4/contacts", json=[{"name": "x"}] * 251, headers=_auth(token),
                             timeout=5)
    assert too_many.status_code == 400


def test_complex_leads_pipelines_notes_fields(amo):
    token = amo.app.state()["credentials"]["long_lived_token"]
    pipelines = requests.get(f"{amo.url}/api/v4/leads/pipelines", headers=_auth(token), timeout=5).json()
    purchases = next(p for p in pipelines["_embedded"]["pipelines"] if p["name"] == "Покупки Лайм")
    statuses = {s["id"] for s in purchases["_embedded"]["statuses"]}
    assert {142, 143} <= statuses
    leads = [{"name": f"Билет {n}", "price": 1500, "pipeline_id": purchases["id"],
              "_embedded": {"contacts": [{"name": f"К{n}"}]}} for n in range(2)]
    answer = requests.post(f"{amo.url}/api/v4/leads/complex", json=leads, headers=_auth(token), timeout=5).json()
    assert len(answer) == 2 and answer[0]["contact_id"]
    assert requests.post(f"{amo.url}/api/v4/leads/complex", json=leads * 26, headers=_auth(token),
                         timeout=5).status_code == 400
    note = requests.post(f"{amo.url}/api/v4/contacts/{answer[0]['contact_id']}/notes", headers=_auth(token),
                         json=[{"note_type": "common", "params": {"text": "Привет"}}], timeout=5)
    assert note.status_code == 200
    field = requests.post(f"{amo.url}/api/v4/contacts/custom_fields", headers=_auth(token), timeout=5,
                          json=[{"name": "Дети", "type": "textarea"}]).json()
    assert field["_embedded"]["custom_fields"][0]["id"]


def test_rate_limit_429_then_account_block_403_html(amo):
    token = amo.app.state()["credentials"]["long_lived_token"]
    codes = [requests.get(f"{amo.url}/api/v4/leads/pipelines", headers=_auth(token), timeout=5).status_code
             for _ in range(14)]
    assert codes[:7] == [200] * 7 and 429 in codes
    blocked = requests.get(f"{amo.url}/api/v4/leads/pipelines", headers=_auth(token), timeout=5)
    assert blocked.status_code == 403 and blocked.headers["Content-Type"].startswith("text/html")
    requests.post(f"{amo.url}/_emulator/faults", json={"unblock": True}, timeout=5)


def test_changes_are_sent_as_legacy_form_encoded_webhooks(hook_receiver):
    with RunningEmulator(AmoCRMEmulator()) as amo:
        requests.post(f"{amo.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"}, timeout=5)
        token = amo.app.state()["credentials"]["long_lived_token"]
        created = requests.post(f"{amo.url}/api/v4/contacts", headers=_auth(token), timeout=5, json=[
            {"name": "Анна", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+79120000000"}]}]}])
        contact_id = created.json()["_embedded"]["contacts"][0]["id"]
        requests.post(f"{amo.url}/_emulator/faults", json={"edit_contact": {"id": contact_id, "name": "Аня"}},
                      timeout=5)
        amo.app.wait_deliveries()
        assert len(hook_receiver.app.received) == 2
        hook = hook_receiver.app.received[-1]
        fields = dict(parse_qsl(hook["text"]))
        assert hook["content_type"] == "application/x-www-form-urlencoded"
        assert hook["headers"]["User-Agent"] == "amoCRM-Webhooks/3.0"
        assert fields["contacts[update][0][id]"] == str(contact_id)
        assert fields["contacts[update][0][name]"] == "Аня"
        assert fields["account[subdomain]"] == "demo"
        assert fields["contacts[update][0][custom_fields][0][values][0][value]"] == "+79120000000"


def test_tasks_bulk_create_echo_request_ids_and_refuse_a_bad_batch_whole(amo):
    token = amo.app.state()["credentials"]["long_lived_token"]
    contact = requests.post(f"{amo.url}/api/v4/contacts", json=[{"name": "Анна"}], headers=_auth(token),
                            timeout=5).json()["_embedded"]["contacts"][0]["id"]
    lead = requests.post(f"{amo.url}/api/v4/leads", json=[{"name": "Праздник"}], headers=_auth(token),
                         timeout=5).json()["_embedded"]["leads"][0]["id"]
    tasks = [{"text": "Перезвонить", "complete_till": 1900000000, "entity_id": contact, "entity_type": "contacts",
              "task_type_id": 1, "request_id": "call"},
             {"text": "Встреча", "complete_till": 1900003600, "entity_id": lead, "entity_type": "leads",
              "task_type_id": 2, "responsible_user_id": 42, "request_id": "meet"}]
    created = requests.post(f"{amo.url}/api/v4/tasks", json=tasks, headers=_auth(token), timeout=5)
    assert created.status_code == 200 and created.headers["Content-Type"].startswith("application/hal+json")
    answer = created.json()["_embedded"]["tasks"]
    assert [t["request_id"] for t in answer] == ["call", "meet"] and answer[0]["id"] != answer[1]["id"]
    stored = {t["id"]: t for t in amo.app.state()["tasks"]}
    call, meet = stored[answer[0]["id"]], stored[answer[1]["id"]]
    assert (call["entity_type"], call["entity_id"], call["text"], call["complete_till"]) == (
        "contacts", contact, "Перезвонить", 1900000000)
    assert call["responsible_user_id"] != 42 and meet["responsible_user_id"] == 42  # unnamed: the token's user
    assert call["is_completed"] is False
    listed = requests.get(f"{amo.url}/api/v4/tasks", headers=_auth(token), timeout=5).json()
    assert len(listed["_embedded"]["tasks"]) == 2
    bad = requests.post(f"{amo.url}/api/v4/tasks", headers=_auth(token), timeout=5, json=[
        {"text": "Годная", "complete_till": 1900000000, "entity_id": contact, "entity_type": "contacts"},
        {"complete_till": 1900000000, "request_id": "no-text"},
        {"text": "Без срока", "request_id": "no-deadline"},
        {"text": "Некому", "complete_till": 1900000000, "entity_id": 1, "entity_type": "contacts",
         "request_id": "ghost"}])
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("application/problem+json")
    refused = {e["request_id"]: [x["path"] for x in e["errors"]] for e in bad.json()["validation-errors"]}
    assert refused == {"no-text": ["text"], "no-deadline": ["complete_till"], "ghost": ["entity_id"]}
    assert len(amo.app.state()["tasks"]) == 2  # the good one was not created either


def test_notes_in_bulk_name_their_entity_in_each_item(amo):
    token = amo.app.state()["credentials"]["long_lived_token"]
    rows = requests.post(f"{amo.url}/api/v4/contacts", json=[{"name": "А"}, {"name": "Б"}], headers=_auth(token),
                         timeout=5).json()["_embedded"]["contacts"]
    first, second = rows[0]["id"], rows[1]["id"]
    notes = [{"entity_id": first, "note_type": "common", "params": {"text": "раз"}, "request_id": "n1"},
             {"entity_id": second, "note_type": "common", "params": {"text": "два"}}]
    answer = requests.post(f"{amo.url}/api/v4/contacts/notes", json=notes, headers=_auth(token), timeout=5)
    assert answer.status_code == 200
    assert [(n["entity_id"], n["request_id"]) for n in answer.json()["_embedded"]["notes"]] == [
        (first, "n1"), (second, "1")]
    assert [(n["entity"], n["entity_id"], n["params"]["text"]) for n in amo.app.state()["notes"]] == [
        ("contacts", first, "раз"), ("contacts", second, "два")]
    unknown = requests.post(f"{amo.url}/api/v4/leads/notes", headers=_auth(token), timeout=5,
                            json=[{"entity_id": first, "note_type": "common", "params": {"text": "не сделка"}}])
    assert unknown.status_code == 400 and unknown.json()["validation-errors"][0]["errors"][0]["path"] == "entity_id"
    assert len(amo.app.state()["notes"]) == 2


def test_query_searches_filled_fields_and_lead_filters_narrow_the_list(amo):
    token = amo.app.state()["credentials"]["long_lived_token"]
    requests.post(f"{amo.url}/_emulator/faults", json={"per_token_limit": 100, "account_limit": 100}, timeout=5)
    phone = [{"field_code": "PHONE", "values": [{"value": "+79120005501", "enum_code": "MOB"}]}]
    contacts = requests.post(f"{amo.url}/api/v4/contacts", headers=_auth(token), timeout=5, json=[
        {"first_name": "Анна", "last_name": "Ли", "custom_fields_values": phone}, {"first_name": "Борис"}]).json()
    anna = contacts["_embedded"]["contacts"][0]["id"]

    def search(entity, **params):
        answer = requests.get(f"{amo.url}/api/v4/{entity}", params=params, headers=_auth(token), timeout=5)
        return [] if answer.status_code == 204 else [row["id"] for row in answer.json()["_embedded"][entity]]

    assert search("contacts", query="+79120005501") == [anna]  # a custom field value…
    assert search("contacts", query="анна") == [anna]  # …or a name, case ignored
    assert search("contacts", query="+79990000000") == []  # nothing found: 204
    leads = requests.post(f"{amo.url}/api/v4/leads", headers=_auth(token), timeout=5, json=[
        {"name": "Билет", "price": 500, "pipeline_id": 3002, "_embedded": {"contacts": [{"id": anna}]}},
        {"name": "Билет", "price": 500, "pipeline_id": 3003}, {"name": "Другое", "pipeline_id": 3002}]).json()
    first, second, _ = (row["id"] for row in leads["_embedded"]["leads"])
    made = amo.app.leads[first]["created_at"]
    assert search("leads", **{"filter[name][]": ["Билет"], "filter[pipeline_id][]": [3002],
                              "filter[created_at][from]": made, "with": "contacts"}) == [first]
    assert search("leads", **{"filter[name][]": ["Билет", "Другое"], "order[id]": "desc"})[:2] == [
        max(amo.app.leads), second]
    assert search("leads", **{"filter[created_at][from]": made + 3600}) == []  # nothing made since
