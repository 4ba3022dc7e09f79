"""The Bitrix24 emulator against contracts/crm.md."""

from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from connectors.base.emulator import RunningEmulator
from connectors.bitrix24.emulator import Bitrix24Emulator


@pytest.fixture
def b24():
    with RunningEmulator(Bitrix24Emulator(burst=50, drain=2)) as running:
        yield running


def _url(b24, method):
    return f"{b24.url}{b24.app.state()['credentials']['webhook_url']}{method}"


def test_webhook_auth_add_and_multifield_rules(b24):
    bad = requests.post(f"{b24.url}/rest/1/wrong/crm.contact.add.json", json={"fields": {"NAME": "x"}}, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "INVALID_CREDENTIALS"
    contact_id = requests.post(_url(b24, "crm.contact.add.json"), timeout=5, json={"fields": {
        "NAME": "Анна", "PHONE": [{"VALUE": "+79120000000", "VALUE_TYPE": "MOBILE"}]}}).json()["result"]
    phone_id = requests.post(_url(b24, "crm.contact.get"), json={"id": contact_id}, timeout=5
                             ).json()["result"]["PHONE"][0]["ID"]
    # A naive update (no ID) appends: the classic way to duplicate phones.
    requests.post(_url(b24, "crm.contact.update"), timeout=5,
                  json={"id": contact_id, "fields": {"PHONE": [{"VALUE": "+79120000000"}]}})
    phones = requests.post(_url(b24, "crm.contact.get"), json={"id": contact_id}, timeout=5).json()["result"]["PHONE"]
    assert len(phones) == 2
    requests.post(_url(b24, "crm.contact.update"), timeout=5, json={"id": contact_id, "fields": {"PHONE": [
        {"ID": phones[1]["ID"], "DELETE": "Y"}, {"ID": phone_id, "VALUE": "+79990000000"}]}})
    phones = requests.post(_url(b24, "crm.contact.get"), json={"id": contact_id}, timeout=5).json()["result"]["PHONE"]
    assert [p["VALUE"] for p in phones] == ["+79990000000"]


def test_batch_with_result_references_errors_and_length_limit(b24):
    answer = requests.post(_url(b24, "batch"), timeout=5, json={"halt": 0, "cmd": {
        "c": "crm.contact.add?fields[NAME]=Олег",
        "d": "crm.deal.add?fields[TITLE]=Билет&fields[CATEGORY_ID]=1&fields[STAGE_ID]=C1:NEW"
             "&fields[CONTACT_ID]=$result[c]",
        "r": "crm.deal.productrows.set?id=$result[d]&rows[0][PRODUCT_NAME]=Билет&rows[0][PRICE]=1500"
             "&rows[0][QUANTITY]=2",
        "bad": "crm.deal.add?fields[TITLE]=X&fields[CATEGORY_ID]=1&fields[STAGE_ID]=C2:NEW",
    }})
    assert answer.status_code == 200
    body = answer.json()["result"]
    deal = b24.app.deals[body["result"]["d"]]
    assert deal["CONTACT_ID"] == str(body["result"]["c"])
    assert b24.app.product_rows[deal["ID"]] == [{"PRODUCT_NAME": "Билет", "PRODUCT_ID": 0, "PRICE": 1500.0,
                                                 "QUANTITY": 2.0}]
    assert body["result_error"]["bad"]["error"] == "ERROR_CORE"
    too_long = requests.post(_url(b24, "batch"), timeout=5,
                             json={"cmd": {f"k{n}": "crm.category.list" for n in range(51)}})
    assert too_long.json()["error"] == "ERROR_BATCH_LENGTH_EXCEEDED"


def test_leaky_bucket_and_operation_time_limit(b24):
    codes = [requests.post(_url(b24, "crm.category.list"), timeout=5).status_code for _ in range(53)]
    assert codes[:50] == [200] * 50 and codes[-1] == 503
    over = requests.post(_url(b24, "crm.category.list"), timeout=5)
    assert over.json()["error"] == "QUERY_LIMIT_EXCEEDED"
    requests.post(f"{b24.url}/_emulator/faults", json={"operation_time_limit": 1, "burst": 1000}, timeout=5)
    blocked = requests.post(_url(b24, "crm.category.list"), timeout=5)
    assert blocked.status_code == 429 and blocked.json()["error"] == "OPERATION_TIME_LIMIT"


def test_changes_are_sent_as_form_encoded_events_with_application_token(hook_receiver):
    with RunningEmulator(Bitrix24Emulator()) as b24:
        requests.post(f"{b24.url}/_emulator/faults", json={"handler_url": f"{hook_receiver.url}/hook"}, timeout=5)
        contact_id = requests.post(_url(b24, "crm.contact.add"), json={"fields": {"NAME": "Анна"}},
                                   timeout=5).json()["result"]
        b24.app.wait_deliveries()
        fields = dict(parse_qsl(hook_receiver.app.received[-1]["text"]))
        assert fields["event"] == "ONCRMCONTACTADD" and fields["data[FIELDS][ID]"] == str(contact_id)
        assert fields["auth[application_token]"] == b24.app.state()["credentials"]["application_token"]


def test_oauth_calls_and_expired_token(b24):
    token = b24.app.issue_oauth_token()
    ok = requests.post(f"{b24.url}/rest/crm.category.list", params={"auth": token["access_token"]}, timeout=5)
    assert ok.status_code == 200
    requests.post(f"{b24.url}/_emulator/faults", json={"expire_tokens": True}, timeout=5)
    expired = requests.post(f"{b24.url}/rest/crm.category.list", params={"auth": token["access_token"]}, timeout=5)
    assert expired.status_code == 401 and expired.json()["error"] == "expired_token"
    creds = b24.app.state()["credentials"]
    fresh = requests.get(f"{b24.url}/oauth/token/", timeout=5, params={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": token["refresh_token"]})
    assert fresh.status_code == 200 and fresh.json()["access_token"]


def test_todo_add_alone_and_in_a_batch_with_the_owners_manager(b24):
    contact_id = requests.post(_url(b24, "crm.contact.add"), timeout=5,
                               json={"fields": {"NAME": "Анна", "ASSIGNED_BY_ID": "7"}}).json()["result"]
    alone = requests.post(_url(b24, "crm.activity.todo.add"), timeout=5, json={
        "ownerTypeId": 3, "ownerId": contact_id, "deadline": "2030-05-17T15:30:00+03:00", "title": "Перезвонить",
        "description": "Перезвонить клиенту", "responsibleId": 5})
    assert alone.status_code == 200
    todo_id = alone.json()["result"]["id"]
    todo = requests.post(_url(b24, "crm.activity.get"), json={"id": todo_id}, timeout=5).json()["result"]
    assert (todo["OWNER_TYPE_ID"], todo["OWNER_ID"], todo["SUBJECT"], todo["DESCRIPTION"], todo["RESPONSIBLE_ID"]) == (
        "3", str(contact_id), "Перезвонить", "Перезвонить клиенту", "5")
    assert todo["DEADLINE"] == "2030-05-17T15:30:00+03:00"
    for body, code in (({"ownerTypeId": 3, "ownerId": contact_id}, "100"),
                       ({"ownerTypeId": 3, "ownerId": 99999, "deadline": "2030-05-17T15:30:00"}, "NOT_FOUND"),
                       ({"ownerTypeId": 2, "ownerId": contact_id, "deadline": "2030-05-17T15:30:00"}, "NOT_FOUND"),
                       ({"ownerTypeId": 3, "ownerId": contact_id, "deadline": "завтра"}, "WRONG_DATETIME_FORMAT")):
        refused = requests.post(_url(b24, "crm.activity.todo.add"), json=body, timeout=5)
        assert refused.status_code == 400 and refused.json()["error"] == code
    query = urlencode({"ownerTypeId": 3, "ownerId": contact_id, "deadline": "2030-05-18T10:00:00+03:00",
                       "description": "Из батча"})
    answer = requests.post(_url(b24, "batch"), timeout=5, json={"halt": 0, "cmd": {
        "owner": f"crm.contact.get?id={contact_id}",
        "todo": f"crm.activity.todo.add?{query}&responsibleId=$result[owner][ASSIGNED_BY_ID]",
        "ghost": "crm.activity.todo.add?ownerTypeId=3&ownerId=99999&deadline=2030-05-18T10:00:00"}}).json()["result"]
    assert answer["result_error"]["ghost"]["error"] == "NOT_FOUND"
    made = b24.app.activities[answer["result"]["todo"]["id"]]
    assert (made["RESPONSIBLE_ID"], made["DESCRIPTION"], made["DEADLINE"]) == (
        "7", "Из батча", "2030-05-18T10:00:00+03:00")  # the contact's manager, by $result reference
    assert len(b24.app.state()["activities"]) == 2


def test_findbycomm_and_list_filters_find_what_was_written(b24):
    def call(method, **params):
        answer = requests.post(_url(b24, method), json=params, timeout=5).json()
        assert "error" not in answer, answer
        return answer["result"]

    anna = call("crm.contact.add", fields={"NAME": "Анна", "PHONE": [{"VALUE": "+7 (912) 000-55-01"}],
                                           "EMAIL": [{"VALUE": "Anna@Example.ru"}]})
    call("crm.contact.add", fields={"NAME": "Борис", "PHONE": [{"VALUE": "+79120005502"}]})
    # Phones by their digits, e-mails whatever their case; {"CONTACT": [ids]} or [] (PHP's empty result).
    assert call("crm.duplicate.findbycomm", entity_type="CONTACT", type="PHONE",
                values=["+79120005501", "+79990000000"]) == {"CONTACT": [anna]}
    assert call("crm.duplicate.findbycomm", type="EMAIL", values=["anna@example.ru"]) == {"CONTACT": [anna]}
    assert call("crm.duplicate.findbycomm", type="PHONE", values=["+79990000000"]) == []
    too_many = requests.post(_url(b24, "crm.duplicate.findbycomm"), timeout=5,
                             json={"type": "PHONE", "values": [str(n) for n in range(21)]}).json()
    assert too_many["error"]
    deals = [call("crm.deal.add", fields={"TITLE": f"Сделка {n}", "CATEGORY_ID": 1, "ORIGINATOR_ID": "hub",
                                          "ORIGIN_ID": f"pass:{n}"}) for n in range(3)]
    found = call("crm.deal.list", filter={"ORIGINATOR_ID": "hub", "@ORIGIN_ID": ["pass:0", "pass:2"]},
                 select=["ID", "ORIGIN_ID"], order={"ID": "DESC"})
    assert found == [{"ID": deals[2], "ORIGIN_ID": "pass:2"}, {"ID": deals[0], "ORIGIN_ID": "pass:0"}]
    created = call("crm.deal.get", id=deals[0])["DATE_CREATE"]  # ISO 8601 with the portal's offset
    assert created.endswith("+03:00")
    assert len(call("crm.deal.list", filter={">=DATE_CREATE": created, "%TITLE": "сделка"})) == 3
    assert call("crm.deal.list", filter={">DATE_CREATE": "2999-01-01T00:00:00+00:00"}) == []
    assert [row["ID"] for row in call("crm.contact.list", filter={"PHONE": "+79120005502"})] == [anna + 1]
    # Inside a batch too, as the query strings the adapters send.
    batch = call("batch", halt=0, cmd={"d": "crm.duplicate.findbycomm?type=PHONE&values[0]=79120005501"})
    assert batch["result"]["d"] == {"CONTACT": [anna]}
    assert b24.app.state()["methods"][-1] == "crm.duplicate.findbycomm"
