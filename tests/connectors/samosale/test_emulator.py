"""The SamoSale emulator over real HTTP, against connectors/samosale/API.md."""

import hashlib
import hmac
import itertools
import json
from typing import Any

import pytest
import requests

from connectors.base.emulator import RunningEmulator

KEY = {"Authorization": "Bearer emu-key"}
PHONE = "+79123456789"
ITEMS = [{"sku": "A-1", "name": "Горка, 2 часа", "price": "100.00", "qty": 2, "category": "tickets"}]
_keys = itertools.count(1)


class Api:
    """The client's view: base URL ``<emulator>/api/v1`` and the Bearer key."""

    def __init__(self, url: str) -> None:
        self.base = f"{url}/api/v1"

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.base + path, params=params, headers=KEY, timeout=5)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(self.base + path, json=body, headers=KEY, timeout=5)

    def client(self, phone: str = PHONE, bonuses: str | None = None) -> dict[str, Any]:
        client = self.post("/clients", {"phone": phone, "name": "Анна"}).json()["client"]
        if bonuses:
            self.bonuses(client["id"], bonuses)
        return client

    def bonuses(self, client_id: int, amount: str, external_id: str | None = None) -> requests.Response:
        return self.post(f"/clients/{client_id}/bonuses", {"amount": amount, "comment": "test",
                                                           "external_id": external_id or f"m-{next(_keys)}"})

    def available(self, client_id: int) -> str:
        return self.get(f"/clients/{client_id}/balance").json()["available"]


@pytest.fixture
def api(samosale_emulator: RunningEmulator) -> Api:
    """These tests are about the calls, not the pace: the rate limit is lifted (its own test keeps it)."""
    requests.post(f"{samosale_emulator.url}/_emulator/faults", json={"rate_limit": None}, timeout=5)
    return Api(samosale_emulator.url)


def _error(response: requests.Response) -> str:
    return response.json()["error"]["code"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "emu-key"}])
def test_a_wrong_or_missing_key_is_401_with_the_error_body(api, headers):
    response = requests.get(f"{api.base}/clients", params={"phone": PHONE}, headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.json()["error"]["message"]


def test_find_create_and_duplicate_phone(api):
    missing = api.get("/clients", phone=PHONE)
    assert (missing.status_code, _error(missing)) == (404, "client_not_found")
    created = api.post("/clients", {"phone": PHONE, "name": "Анна", "birthdate": "1990-05-17",
                                    "email": "anna@example.com"})
    assert created.status_code == 201
    client = created.json()["client"]
    assert client == {"id": client["id"], "phone": PHONE, "name": "Анна", "balance": "0.00"}
    assert api.get("/clients", phone=PHONE).json() == {"client": client}
    # the contract's own spelling ``?phone=+79…``, the "+" unencoded (it arrives as a space)
    raw = requests.get(f"{api.base}/clients?phone={PHONE}", headers=KEY, timeout=5)
    assert raw.json() == {"client": client}
    duplicate = api.post("/clients", {"phone": PHONE, "name": "Другая"})
    assert (duplicate.status_code, _error(duplicate)) == (409, "duplicate_phone")
    assert duplicate.json()["client"] == client
    for bad in ({"name": "без телефона"}, {"phone": "+7912"}, {"phone": "+79120000000", "birthdate": "17.05.1990"},
                {"phone": "+79120000000", "email": "nope"}):
        response = api.post("/clients", bad)
        assert (response.status_code, _error(response)) == (400, "validation"), bad


def test_balance(api):
    client = api.client()
    assert api.get(f"/clients/{client['id']}/balance").json() == {"available": "0.00", "pending": "0.00",
                                                                   "expiring": []}
    api.bonuses(client["id"], "120.5")
    assert api.get(f"/clients/{client['id']}/balance").json()["available"] == "120.50"
    missing = api.get("/clients/999999/balance")
    assert (missing.status_code, _error(missing)) == (404, "client_not_found")


def test_calculate_caps_bonuses_at_the_balance_and_the_share_of_the_check(api):
    client = api.client(bonuses="100.00")
    small = api.post("/purchases/calculate", {"client_id": client["id"], "total": "150.00", "items": ITEMS})
    assert small.json() == {"total": "150.00", "max_bonuses": "75.00", "bonuses_to_use": "0.00",
                            "bonuses_to_earn": "7.50", "to_pay": "150.00"}
    big = api.post("/purchases/calculate", {"client_id": client["id"], "total": "1000.00", "items": ITEMS,
                                            "bonuses_to_use": "50.00"})
    assert big.json() == {"total": "1000.00", "max_bonuses": "100.00", "bonuses_to_use": "50.00",
                          "bonuses_to_earn": "47.50", "to_pay": "950.00"}
    for total, asked in (("1000.00", "100.01"), ("150.00", "75.01")):
        over = api.post("/purchases/calculate", {"client_id": client["id"], "total": total, "items": ITEMS,
                                                 "bonuses_to_use": asked})
        assert (over.status_code, _error(over)) == (422, "insufficient_bonuses")
    bad = api.post("/purchases/calculate", {"client_id": client["id"], "total": "10.001", "items": ITEMS})
    assert (bad.status_code, _error(bad)) == (400, "validation")
    unknown = api.post("/purchases/calculate", {"client_id": 1, "total": "10.00", "items": ITEMS})
    assert (unknown.status_code, _error(unknown)) == (404, "client_not_found")


def test_a_purchase_is_idempotent_by_external_id_and_a_reused_key_is_a_conflict(api):
    client = api.client(bonuses="100.00")
    body = {"client_id": client["id"], "external_id": "check-1", "total": "200.00", "items": ITEMS,
            "bonuses_to_use": "40.00"}
    first = api.post("/purchases", body)
    assert first.status_code == 201
    purchase = first.json()["purchase"]
    assert {k: purchase[k] for k in ("external_id", "client_id", "total", "bonuses_used", "bonuses_earned",
                                     "status")} == {"external_id": "check-1", "client_id": client["id"],
                                                    "total": "200.00", "bonuses_used": "40.00",
                                                    "bonuses_earned": "8.00", "status": "confirmed"}
    again = api.post("/purchases", body)
    assert (again.status_code, again.json()) == (200, {"purchase": purchase})
    assert api.available(client["id"]) == "68.00"  # 100 - 40 + 5 % of 160, once
    other = api.client("+79120000002")
    for changed in ({"total": "201.00"}, {"client_id": other["id"]}):
        conflict = api.post("/purchases", {**body, **changed})
        assert (conflict.status_code, _error(conflict)) == (409, "conflict")
    ops = api.get(f"/clients/{client['id']}/operations").json()["items"]
    assert [(op["type"], op["amount"], op["purchase_id"]) for op in ops] == [
        ("manual", "100.00", None), ("redeem", "-40.00", purchase["id"]), ("earn", "8.00", purchase["id"])]
    greedy = api.post("/purchases", {**body, "external_id": "check-2", "bonuses_to_use": "68.01"})
    assert (greedy.status_code, _error(greedy)) == (422, "insufficient_bonuses")
    no_bonuses_field = api.post("/purchases", {k: v for k, v in body.items() if k != "bonuses_to_use"})
    assert (no_bonuses_field.status_code, _error(no_bonuses_field)) == (400, "validation")


def test_refunds_partial_idempotent_too_much_and_full(api):
    client = api.client(bonuses="100.00")
    purchase = api.post("/purchases", {"client_id": client["id"], "external_id": "check-1", "total": "200.00",
                                       "items": ITEMS, "bonuses_to_use": "40.00"}).json()["purchase"]
    url = f"/purchases/{purchase['id']}/refund"
    partial = api.post(url, {"external_id": "r-1", "amount": "50.00"})
    assert partial.status_code == 201
    refund = partial.json()["refund"]
    assert refund == {"id": refund["id"], "purchase_id": purchase["id"], "amount": "50.00",
                      "bonuses_returned": "10.00", "bonuses_cancelled": "2.00"}
    assert api.post(url, {"external_id": "r-1", "amount": "50.00"}).json() == {"refund": refund}
    assert api.post(url, {"external_id": "r-1"}).status_code == 200
    reused = api.post(url, {"external_id": "r-1", "amount": "60.00"})
    assert (reused.status_code, _error(reused)) == (409, "conflict")
    too_much = api.post(url, {"external_id": "r-2", "amount": "150.01"})
    assert (too_much.status_code, _error(too_much)) == (400, "validation")
    assert api.post("/purchases", {"client_id": client["id"], "external_id": "check-1", "total": "200.00",
                                   "items": ITEMS, "bonuses_to_use": "40.00"}).json()["purchase"]["status"] \
        == "partially_refunded"
    rest = api.post(url, {"external_id": "r-3"})
    assert rest.status_code == 201
    assert {k: v for k, v in rest.json()["refund"].items() if k != "id"} == {
        "purchase_id": purchase["id"], "amount": "150.00", "bonuses_returned": "30.00", "bonuses_cancelled": "6.00"}
    assert api.available(client["id"]) == "100.00"
    nothing_left = api.post(url, {"external_id": "r-4"})
    assert (nothing_left.status_code, _error(nothing_left)) == (400, "validation")
    ops = api.get(f"/clients/{client['id']}/operations").json()["items"]
    assert [(op["type"], op["amount"]) for op in ops[3:]] == [
        ("refund", "10.00"), ("refund", "-2.00"), ("refund", "30.00"), ("refund", "-6.00")]
    unknown = api.post("/purchases/1/refund", {"external_id": "r-5"})
    assert (unknown.status_code, _error(unknown)) == (404, "purchase_not_found")


def test_a_refund_cancels_no_more_earned_bonuses_than_are_available(api):
    client = api.client()
    purchase = api.post("/purchases", {"client_id": client["id"], "external_id": "check-1", "total": "1000.00",
                                       "items": ITEMS, "bonuses_to_use": "0.00"}).json()["purchase"]
    assert purchase["bonuses_earned"] == "50.00"
    api.bonuses(client["id"], "-45.00")  # spent elsewhere, 5.00 left
    refund = api.post(f"/purchases/{purchase['id']}/refund", {"external_id": "r-1"}).json()["refund"]
    assert (refund["bonuses_returned"], refund["bonuses_cancelled"]) == ("0.00", "5.00")
    assert api.available(client["id"]) == "0.00"


def test_manual_bonuses_add_deduct_and_refuse_an_overdraft(api):
    client = api.client()
    added = api.bonuses(client["id"], "100.00", "m-1")
    assert added.status_code == 201
    operation = added.json()["operation"]
    assert {k: operation[k] for k in ("type", "amount", "comment", "external_id", "purchase_id")} == {
        "type": "manual", "amount": "100.00", "comment": "test", "external_id": "m-1", "purchase_id": None}
    assert operation["created_at"].endswith("Z")
    repeat = api.bonuses(client["id"], "100.00", "m-1")
    assert (repeat.status_code, repeat.json()) == (200, {"operation": operation})
    reused = api.bonuses(client["id"], "-1.00", "m-1")
    assert (reused.status_code, _error(reused)) == (409, "conflict")
    assert api.bonuses(client["id"], "-30.00").json()["operation"]["amount"] == "-30.00"
    assert api.available(client["id"]) == "70.00"
    overdraft = api.bonuses(client["id"], "-70.01")
    assert (overdraft.status_code, _error(overdraft)) == (422, "insufficient_bonuses")
    zero = api.bonuses(client["id"], "0.00")
    assert (zero.status_code, _error(zero)) == (400, "validation")


def test_history_pages_oldest_first(api):
    client = api.client()
    for n in range(1, 6):
        api.bonuses(client["id"], f"{n}.00")
    first = api.get(f"/clients/{client['id']}/operations", limit=2, offset=0).json()
    assert ([op["amount"] for op in first["items"]], first["total"]) == (["1.00", "2.00"], 5)
    last = api.get(f"/clients/{client['id']}/operations", limit=2, offset=4).json()
    assert ([op["amount"] for op in last["items"]], last["total"]) == (["5.00"], 5)
    assert len(api.get(f"/clients/{client['id']}/operations").json()["items"]) == 5
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"limit": "x"}):
        response = api.get(f"/clients/{client['id']}/operations", **params)
        assert (response.status_code, _error(response)) == (400, "validation"), params


def test_over_ten_requests_a_second_is_429_with_retry_after(samosale_emulator):
    assert samosale_emulator.app.rate_limit == 10
    responses = []
    for _ in range(50):  # the 11th within a second is refused; a slow machine may need a few more
        responses.append(requests.get(f"{samosale_emulator.url}/api/v1/clients", params={"phone": PHONE},
                                      headers=KEY, timeout=5))
        if responses[-1].status_code == 429:
            break
    assert responses[-1].status_code == 429
    assert float(responses[-1].headers["Retry-After"]) > 0
    assert len(responses) >= 11 and {r.status_code for r in responses[:10]} == {404}


def test_every_balance_change_is_a_signed_webhook(api, samosale_emulator, hook_receiver):
    client = api.client()
    requests.post(f"{samosale_emulator.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"},
                  timeout=5)
    operated = requests.post(f"{samosale_emulator.url}/_emulator/operate",
                             json={"phone": PHONE, "amount": "50.00", "comment": "подарок"}, timeout=5)
    expired = requests.post(f"{samosale_emulator.url}/_emulator/expire",
                            json={"phone": PHONE, "amount": "20.00"}, timeout=5)
    assert (operated.status_code, expired.status_code) == (201, 201)
    samosale_emulator.app.wait_deliveries()
    events = []
    for hook in hook_receiver.app.received:
        headers, body = hook["headers"], hook["raw"]
        expected = "sha256=" + hmac.new(b"emu-secret", body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Samosale-Signature"], expected)
        events.append(json.loads(body))
    assert len(events) == 2 and len({e["event_id"] for e in events}) == 2
    by_operation = {e["operation_id"]: e for e in events}  # deliveries may arrive in any order
    first = by_operation[operated.json()["operation"]["id"]]
    assert {k: first[k] for k in ("event", "client_id", "phone", "balance")} == {
        "event": "balance.changed", "client_id": client["id"], "phone": PHONE,
        "balance": {"available": "50.00", "pending": "0.00"}}
    assert first["occurred_at"] == operated.json()["operation"]["created_at"]
    assert by_operation[expired.json()["operation"]["id"]]["balance"]["available"] == "30.00"
    state = samosale_emulator.app.state()
    assert state["webhook_deliveries"] == 2
    assert [op["type"] for op in state["operations"]] == ["manual", "expire"]
    assert state["credentials"] == {"api_key": "emu-key", "webhook_secret": "emu-secret",
                                    "webhook_url": f"{hook_receiver.url}/hook"}


def test_knobs_refuse_unknown_phones_and_overdrafts(api, samosale_emulator):
    api.client(bonuses="10.00")
    knob = f"{samosale_emulator.url}/_emulator"
    unknown = requests.post(f"{knob}/operate", json={"phone": "+79990000000", "amount": "5.00"}, timeout=5)
    assert (unknown.status_code, _error(unknown)) == (404, "client_not_found")
    overdraft = requests.post(f"{knob}/operate", json={"phone": PHONE, "amount": "-10.01"}, timeout=5)
    assert (overdraft.status_code, _error(overdraft)) == (422, "insufficient_bonuses")
    burnt = requests.post(f"{knob}/expire", json={"phone": PHONE}, timeout=5).json()
    assert (burnt["operation"]["type"], burnt["operation"]["amount"], burnt["client"]["balance"]) == (
        "expire", "-10.00", "0.00")
    assert samosale_emulator.app.state()["webhook_deliveries"] == 0  # no hub URL, no webhooks
