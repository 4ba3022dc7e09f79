"""The Lime emulator against contracts/lime.md."""

import requests

from connectors.lime.emulator import CLIENT_ID


def _token(url, **form):
    return requests.post(f"{url}/connect/token", data={"client_id": CLIENT_ID, **form}, timeout=5)


def _login(emulator):
    creds = emulator.app.state()["credentials"]
    return _token(emulator.url, grant_type="password", username=creds["username"], password=creds["password"]).json()


def test_password_and_refresh_grants_form_and_multipart_with_doubled_slashes(lime_emulator):
    creds = lime_emulator.app.state()["credentials"]
    form = _token(lime_emulator.url, grant_type="password", username=creds["username"], password=creds["password"])
    assert form.status_code == 200 and {"access_token", "refresh_token"} <= form.json().keys()
    multipart = requests.post(f"{lime_emulator.url}//connect/token", timeout=5, files={
        "client_id": (None, CLIENT_ID), "grant_type": (None, "refresh_token"),
        "refresh_token": (None, form.json()["refresh_token"])})
    assert multipart.status_code == 200
    wrong = _token(lime_emulator.url, grant_type="password", username=creds["username"], password="nope")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_bearer_required_and_expired_tokens_rejected(lime_emulator):
    url = f"{lime_emulator.url}//api/Installations/Select"
    assert requests.post(url, json={}, timeout=5).status_code == 401
    token = _login(lime_emulator)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    page = requests.post(url, json={"filter": {}, "page": {"skip": 0, "take": 25}}, headers=headers, timeout=5)
    assert page.json() == {"data": [{"id": 1, "name": "Аквапарк «Волна»"}]}
    requests.post(f"{lime_emulator.url}/_emulator/faults", json={"expire_tokens": True}, timeout=5)
    assert requests.post(url, json={}, headers=headers, timeout=5).status_code == 401


def test_shapes_bare_scalars_and_kopecks(lime_emulator):
    headers = {"Authorization": f"Bearer {_login(lime_emulator)['access_token']}"}
    base = f"{lime_emulator.url}/api"
    check_id = requests.get(f"{base}/CashdeskServer/GetNextCheckId", headers=headers, timeout=5).json()
    assert isinstance(check_id, int)
    assert isinstance(requests.get(f"{base}/CashdeskServer/GetServerCurrentTime", headers=headers,
                                   timeout=5).json(), str)
    new_id = requests.post(f"{base}/ClientManagement/Insert", headers=headers, timeout=5,
                           json={"email": "new@example.ru", "phoneNumber": "79001112233", "displayName": "Н"}).json()
    assert isinstance(new_id, int)
    found = requests.post(f"{base}/ClientManagement/GetClientInfoByEmail", headers=headers, timeout=5,
                          json={"email": "new@example.ru", "installationId": 1}).json()
    assert found[0]["userData"]["id"] == new_id
    goods = requests.post(f"{base}/GoodTypes/Select", headers=headers, timeout=5,
                          json={"filter": {"installationId": 1}, "page": {"skip": 0, "take": 100}}).json()["data"]
    assert {"id", "basePrice", "name"} <= goods[0].keys() and goods[0]["basePrice"] == 150000  # kopecks
    card = requests.get(f"{base}/CashdeskServer/GenerateCard", params={"cashdeskId": 1, "installationId": 1},
                        headers=headers, timeout=5).json()["card"]
    info = requests.get(f"{base}/CashdeskServer/GetCardInfo", params={"cardId": card["id"], "installationId": 1},
                        headers=headers, timeout=5).json()
    assert info["rights"][0]["right"]["amount"] == 0


def test_preorder_insert_is_idempotent_by_external_id_and_validates_lines(lime_emulator):
    headers = {"Authorization": f"Bearer {_login(lime_emulator)['access_token']}"}
    client_id = next(iter(lime_emulator.app.clients))
    body = {"clientId": client_id, "date": "2026-12-01T12:00:00", "externalId": "hub-preorder-1",
            "lines": [{"goodTypeId": 301, "count": 1, "price": 2500000}]}
    url = f"{lime_emulator.url}/api/PreOrders/Insert"
    first = requests.post(url, json=body, headers=headers, timeout=5).json()
    assert requests.post(url, json=body, headers=headers, timeout=5).json() == first
    bad = requests.post(url, json={**body, "lines": [{"goodTypeId": 999}]}, headers=headers, timeout=5)
    assert bad.status_code == 400 and "goodTypeId" in bad.json()["error"]


def test_a_turnstile_pass_on_demand_is_answered_and_next_in_the_passes_feed(lime_emulator):
    headers = {"Authorization": f"Bearer {_login(lime_emulator)['access_token']}"}
    last = max(lime_emulator.app.passes)
    made = requests.post(f"{lime_emulator.url}/_emulator/pass", timeout=5)
    assert made.status_code == 201 and made.json()["id"] > last
    feed = requests.post(f"{lime_emulator.url}/api/Passes/Select", headers=headers, timeout=5,
                         json={"filter": {"afterId": last}, "page": {"skip": 0, "take": 25}}).json()["data"]
    assert [p["id"] for p in feed] == [made.json()["id"]] and feed[0]["cardId"] == made.json()["cardId"]
