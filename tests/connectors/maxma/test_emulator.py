"""The MAXMA emulator over real HTTP, against the public API description."""

import base64

import pytest
import requests

from connectors.base.emulator import EmulatorProcess

PHONE = "+79123456789"


def call(emulator, operation, body, key="emu-key"):
    headers = {"X-Processing-Key": key} if key is not None else {}
    answer = requests.post(f"{emulator.url}/{operation}", json=body, headers=headers, timeout=5)
    assert answer.status_code == 200  # MAXMA answers errors with 200 too
    return answer.json()


def new_client(emulator, phone=PHONE, bonuses=0, **fields):
    reply = call(emulator, "new-client", {"client": {"phoneNumber": phone, **fields}})
    if bonuses:
        call(emulator, "adjust-balance", {"client": {"phoneNumber": phone},
                                          "balanceAdjustment": {"amountDelta": bonuses}})
    return reply


def balance(emulator, phone=PHONE):
    return call(emulator, "get-balance", {"phoneNumber": phone})["client"]["bonuses"]


def query(rows, apply_bonuses=0, phone=PHONE):
    return {"client": {"phoneNumber": phone}, "shop": {"code": "1", "name": "Аквапарк"},
            "rows": [{"id": str(n), "product": {"sku": sku, "title": sku, "blackPrice": price}, "qty": qty}
                     for n, (sku, price, qty) in enumerate(rows, 1)],
            "applyBonuses": apply_bonuses}


@pytest.mark.parametrize("key", [None, "wrong"])
def test_processing_key_is_checked(maxma_emulator, key):
    reply = call(maxma_emulator, "get-balance", {"phoneNumber": PHONE}, key=key)
    assert reply["errorCode"] == 1 and "processing key" in reply["description"].lower()
    assert call(maxma_emulator, "get-balance", {"phoneNumber": PHONE})["errorCode"] == 3


def test_new_client_normalises_phone_and_refuses_a_duplicate(maxma_emulator):
    reply = new_client(maxma_emulator, "8 (912) 345-67-89", name="Анна", surname="Иванова",
                       email="anna@example.com", externalId="hub-1", birthdate="1990-05-01")
    client = reply["client"]
    assert client["phoneNumber"] == PHONE and client["fullName"] == "Анна Иванова"
    assert client["bonuses"] == 0 and client["pendingBonuses"] == 0 and reply["bonuses"] == []
    assert client["cardString"] and isinstance(client["card"], int)
    again = call(maxma_emulator, "new-client", {"client": {"phoneNumber": "+7 912 345 67 89"}})
    assert again["errorCode"] == 24 and again["description"]
    assert call(maxma_emulator, "new-client", {"client": {"phoneNumber": "+79990000000",
                                                          "externalId": "hub-1"}})["errorCode"] == 30
    assert call(maxma_emulator, "new-client", {"client": {"phoneNumber": "12"}})["errorCode"] == 20
    assert call(maxma_emulator, "new-client", {"client": {"name": "Без телефона"}})["errorCode"] == 29
    by_external = call(maxma_emulator, "get-balance", {"externalId": "hub-1"})
    assert by_external["client"]["phoneNumber"] == PHONE


def test_balance_details_expiry_dates_only_for_the_next_50_days(maxma_emulator):
    new_client(maxma_emulator)
    for delta, days in ((100, 10), (50, 200)):
        call(maxma_emulator, "adjust-balance", {"client": {"phoneNumber": PHONE}, "balanceAdjustment": {
            "amountDelta": delta, "expirationPeriodDays": days, "comment": "подарок"}})
    reply = call(maxma_emulator, "get-balance", {"phoneNumber": PHONE})
    assert reply["client"]["bonuses"] == 150
    assert [item["amount"] for item in reply["bonuses"]] == [100, 50]
    assert "expireAt" in reply["bonuses"][0] and "expireAt" not in reply["bonuses"][1]


def test_calculation_caps_bonuses_at_half_the_check_and_the_balance(maxma_emulator):
    new_client(maxma_emulator, bonuses=1500)
    check = [("TICKET", 1000, 1), ("TOWEL", 500, 2)]
    result = call(maxma_emulator, "v2/calculate-purchase", {"calculationQuery": query(check, "auto")})
    bonuses = result["calculationResult"]["bonuses"]
    assert bonuses == {"applied": 1000, "collected": 50, "maxToApply": 1000}  # 5% of the 1000 still paid
    assert result["calculationResult"]["summary"]["totalDiscount"] == 1000
    assert [row["bonuses"]["applied"] for row in result["calculationResult"]["rows"]] == [500, 500]
    too_many = call(maxma_emulator, "v2/calculate-purchase", {"calculationQuery": query(check, 1001)})
    assert too_many["calculationResult"]["bonuses"]["error"]["code"] == 6
    assert too_many["calculationResult"]["bonuses"]["applied"] == 0
    refused = call(maxma_emulator, "set-purchase", {"txid": "tx-1", "calculationQuery": query(check, 1001)})
    assert refused["errorCode"] == 6 and balance(maxma_emulator) == 1500
    call(maxma_emulator, "adjust-balance", {"client": {"phoneNumber": PHONE},
                                            "balanceAdjustment": {"amountDelta": -1300}})
    capped = call(maxma_emulator, "v2/calculate-purchase", {"calculationQuery": query(check, "auto")})
    assert capped["calculationResult"]["bonuses"]["maxToApply"] == 200
    assert call(maxma_emulator, "v2/calculate-purchase",
                {"calculationQuery": {**query(check), "rows": []}})["errorCode"] == 18
    assert call(maxma_emulator, "v2/calculate-purchase",
                {"calculationQuery": query(check, phone="+79990000000")})["errorCode"] == 3


def test_set_purchase_reserves_and_confirm_applies_and_collects(maxma_emulator):
    new_client(maxma_emulator, bonuses=500)
    body = {"txid": "tx-1", "calculationQuery": query([("TICKET", 1000, 1)], 200)}
    first = call(maxma_emulator, "set-purchase", body)
    assert first["ticket"] and first["clientBonuses"]["reserved"] == 200
    assert first["clientBonuses"]["available"] == 300 and balance(maxma_emulator) == 300
    assert call(maxma_emulator, "set-purchase", body) == first  # a lost answer, asked again
    assert call(maxma_emulator, "confirm-ticket", {"txid": "tx-1", "ticket": first["ticket"]}) == {}
    assert balance(maxma_emulator) == 340  # 300 + 5% of the 800 paid
    assert call(maxma_emulator, "confirm-ticket", {"txid": "tx-1", "ticket": first["ticket"]})["errorCode"] == 17
    assert call(maxma_emulator, "set-purchase", body)["errorCode"] == 17
    assert call(maxma_emulator, "discard-ticket", {"txid": "tx-1", "ticket": first["ticket"]})["errorCode"] == 17
    assert call(maxma_emulator, "confirm-ticket", {"txid": "nope", "ticket": "nope"})["errorCode"] == 21
    history = call(maxma_emulator, "get-bonus-history", {"client": {"phoneNumber": PHONE}})["history"]
    assert [(h["operation"], h["amount"]) for h in history[:2]] == [("OPERATION_COLLECTED", 40),
                                                                    ("OPERATION_APPLIED", -200)]
    assert history[0]["OPERATION_COLLECTED"]["purchaseId"] == "tx-1"
    assert history[0]["OPERATION_COLLECTED"]["totalAmount"] == 1000


def test_discard_gives_the_reservation_back_and_a_repunched_check_replaces_the_ticket(maxma_emulator):
    new_client(maxma_emulator, bonuses=500)
    old = call(maxma_emulator, "set-purchase", {"txid": "tx-2", "calculationQuery": query([("A", 1000, 1)], 100)})
    new = call(maxma_emulator, "set-purchase", {"txid": "tx-2", "calculationQuery": query([("A", 1000, 1)], 300)})
    assert new["ticket"] != old["ticket"] and balance(maxma_emulator) == 200
    assert call(maxma_emulator, "confirm-ticket", {"txid": "tx-2", "ticket": old["ticket"]})["errorCode"] == 22
    assert call(maxma_emulator, "discard-ticket", {"txid": "tx-2", "ticket": new["ticket"]}) == {}
    assert balance(maxma_emulator) == 500
    assert call(maxma_emulator, "discard-ticket", {"txid": "tx-2", "ticket": new["ticket"]}) == {}
    assert call(maxma_emulator, "confirm-ticket", {"txid": "tx-2", "ticket": new["ticket"]})["errorCode"] == 22
    assert call(maxma_emulator, "set-purchase", {"txid": "tx-2", "calculationQuery": query([("A", 1000, 1)])}
                )["errorCode"] == 22


def test_returns_give_back_spent_and_take_back_collected_bonuses(maxma_emulator):
    new_client(maxma_emulator, bonuses=500)
    sale = call(maxma_emulator, "set-purchase", {"txid": "tx-3", "calculationQuery": query(
        [("TICKET", 600, 1), ("TOWEL", 400, 1)], 200)})
    assert [row["bonuses"] for row in sale["calculationResult"]["rows"]] == [
        {"applied": 120, "collected": 24}, {"applied": 80, "collected": 16}]
    assert call(maxma_emulator, "apply-return", {"transaction": {"id": "r-0", "purchaseId": "tx-3",
                                                                 "refundAmount": 1}})["errorCode"] == 13
    call(maxma_emulator, "confirm-ticket", {"txid": "tx-3", "ticket": sale["ticket"]})
    assert balance(maxma_emulator) == 340
    preview = call(maxma_emulator, "calculate-return", {"calculate": {
        "purchaseId": "tx-3", "items": [{"sku": "TOWEL", "itemCount": 1}]}})
    assert preview["calculation"] == {"purchaseId": "tx-3", "refundAmount": 320.0, "recoveredBonuses": 80,
                                      "cancelledBonuses": 16}
    towel = {"transaction": {"id": "r-1", "executedAt": "2026-01-02T10:00:00+03:00", "purchaseId": "tx-3",
                             "shopCode": "1", "shopName": "Аквапарк", "items": [{"sku": "TOWEL", "itemCount": 1}]}}
    first = call(maxma_emulator, "apply-return", towel)
    assert first["confirmation"] == {"phoneNumber": PHONE, "refundId": "r-1", "refundAmount": 320.0,
                                     "recoveredBonuses": 80, "cancelledBonuses": 16}
    assert call(maxma_emulator, "apply-return", towel) == first and balance(maxma_emulator) == 404
    assert call(maxma_emulator, "apply-return", {"transaction": {
        "id": "r-2", "purchaseId": "tx-3", "items": [{"sku": "TOWEL", "itemCount": 1}]}})["errorCode"] == 10
    assert call(maxma_emulator, "apply-return", {"transaction": {
        "id": "r-2", "purchaseId": "tx-3", "refundAmount": 481}})["errorCode"] == 11
    rest = call(maxma_emulator, "apply-return", {"transaction": {"id": "r-3", "purchaseId": "tx-3",
                                                                 "refundAmount": 480}})
    assert (rest["confirmation"]["recoveredBonuses"], rest["confirmation"]["cancelledBonuses"]) == (120, 24)
    assert balance(maxma_emulator) == 500  # everything undone, to the unit
    assert call(maxma_emulator, "apply-return", {"transaction": {"id": "r-4", "purchaseId": "tx-x",
                                                                 "refundAmount": 1}})["errorCode"] == 21
    operations = [h["operation"] for h in call(maxma_emulator, "get-bonus-history", {
        "client": {"phoneNumber": PHONE}})["history"][:2]]
    assert operations == ["OPERATION_CANCELLED", "OPERATION_REFUNDED"]


def test_adjust_balance_refuses_to_go_below_zero(maxma_emulator):
    new_client(maxma_emulator)
    adjust = {"client": {"phoneNumber": PHONE}, "balanceAdjustment": {"amountDelta": 100, "comment": "бонус"}}
    assert call(maxma_emulator, "adjust-balance", adjust)["clientBonuses"] == {
        "available": 100, "pending": 0, "reserved": 0, "total": 100}
    adjust["balanceAdjustment"]["amountDelta"] = -150
    assert call(maxma_emulator, "adjust-balance", adjust)["errorCode"] == 6
    adjust["balanceAdjustment"]["amountDelta"] = -30
    assert call(maxma_emulator, "adjust-balance", adjust)["clientBonuses"]["available"] == 70
    adjust["client"] = {"phoneNumber": "+79990000000"}
    assert call(maxma_emulator, "adjust-balance", adjust)["errorCode"] == 3
    entry = call(maxma_emulator, "get-bonus-history", {"client": {"phoneNumber": PHONE}})["history"][0]
    assert entry["operation"] == "OPERATION_RECALLED" and entry["amount"] == -30
    assert entry["OPERATION_RECALLED"] == {"actionName": "Корректировка", "comment": "бонус"}


@pytest.mark.parametrize("operation", ["get-bonus-history", "get-history"])
def test_history_pages_newest_first(maxma_emulator, operation):
    new_client(maxma_emulator)
    for amount in range(1, 6):
        call(maxma_emulator, "adjust-balance", {"client": {"phoneNumber": PHONE},
                                                "balanceAdjustment": {"amountDelta": amount}})
    page = call(maxma_emulator, operation, {"client": {"phoneNumber": PHONE},
                                            "pagination": {"limit": 2, "offset": 0}})
    assert [h["amount"] for h in page["history"]] == [5, 4] and page["pagination"] == {"total": 5}
    last = call(maxma_emulator, operation, {"client": {"phoneNumber": PHONE},
                                            "pagination": {"limit": 2, "offset": 4}})
    assert [h["amount"] for h in last["history"]] == [1]
    assert {"at", "operation", "operationName", "OPERATION_RECEIVED"} <= set(last["history"][0])


def test_pending_bonuses_mature_and_old_ones_expire(maxma_emulator):
    url = maxma_emulator.url
    requests.post(f"{url}/_emulator/faults", json={"pending_days": 14}, timeout=5)
    new_client(maxma_emulator)
    call(maxma_emulator, "adjust-balance", {"client": {"phoneNumber": PHONE}, "balanceAdjustment": {
        "amountDelta": 30, "expirationPeriodDays": 10}})
    sale = call(maxma_emulator, "set-purchase", {"txid": "tx-4", "calculationQuery": query([("A", 1000, 1)])})
    call(maxma_emulator, "confirm-ticket", {"txid": "tx-4", "ticket": sale["ticket"]})
    client = call(maxma_emulator, "get-balance", {"phoneNumber": PHONE})["client"]
    assert (client["bonuses"], client["pendingBonuses"]) == (30, 50)
    requests.post(f"{url}/_emulator/faults", json={"advance_days": 15}, timeout=5)
    client = call(maxma_emulator, "get-balance", {"phoneNumber": PHONE})["client"]
    assert (client["bonuses"], client["pendingBonuses"]) == (50, 0)
    history = call(maxma_emulator, "get-bonus-history", {"client": {"phoneNumber": PHONE}})["history"]
    assert history[0]["operation"] == "OPERATION_EXPIRED" and history[0]["amount"] == -30


def test_webhooks_carry_the_events_with_basic_auth(maxma_emulator, hook_receiver):
    app = maxma_emulator.app
    requests.post(f"{maxma_emulator.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"},
                  timeout=5)
    new_client(maxma_emulator, externalId="hub-1")
    answer = requests.post(f"{maxma_emulator.url}/_emulator/operate",
                           json={"phoneNumber": PHONE, "amount": 50, "comment": "кассир"}, timeout=5)
    assert answer.status_code == 200 and answer.json()["clientBonuses"]["available"] == 50
    app.wait_deliveries()
    received = hook_receiver.app.received
    creds = app.credentials()
    expected = "Basic " + base64.b64encode(f"{creds['webhook_user']}:{creds['webhook_password']}".encode()).decode()
    assert [r["authorization"] for r in received] == [expected, expected]
    assert all(isinstance(r["body"], list) for r in received)
    # Each hook travels on its own, as the real system's do: they may arrive in either order.
    events = {r["body"][0]["event"]: r["body"][0] for r in received}
    new_event, bonus_event = events["EVENT_CLIENT_NEW"], events["EVENT_CLIENT_BONUSES_CHANGED"]
    assert new_event["source"] == "api"
    assert new_event["EVENT_CLIENT_NEW"]["clientData"]["phoneNumber"] == PHONE
    assert bonus_event["event"] == "EVENT_CLIENT_BONUSES_CHANGED" and bonus_event["source"] == "internal"
    assert bonus_event["eventId"] and bonus_event["eventTime"]
    assert bonus_event["EVENT_CLIENT_BONUSES_CHANGED"] == {
        "client": {"phoneNumber": PHONE, "card": new_event["EVENT_CLIENT_NEW"]["clientData"]["card"],
                   "externalId": "hub-1"},
        "clientBonuses": {"totalAmount": 50, "availableAmount": 50, "pendingAmount": 0},
        "bonusesDelta": {"availableDelta": 50, "pendingDelta": 0}}
    history = call(maxma_emulator, "get-bonus-history", {"client": {"phoneNumber": PHONE}})["history"]
    assert history[0]["OPERATION_RECEIVED"]["comment"] == "кассир"
    assert app.state()["webhook_deliveries"] == 2


def test_webhooks_are_retried_on_5xx_but_not_on_4xx(maxma_emulator, hook_receiver):
    hook = f"{hook_receiver.url}/hook"
    requests.post(f"{maxma_emulator.url}/_emulator/faults", json={
        "webhook_url": hook.replace("http://", "http://hub:s3cret@"), "webhook_retry": {"delay": 0.01}}, timeout=5)
    requests.post(f"{hook_receiver.url}/_emulator/faults", json={"status": 500, "times": 2}, timeout=5)
    new_client(maxma_emulator)
    maxma_emulator.app.wait_deliveries()
    assert len(hook_receiver.app.received) == 1  # the third attempt got through
    assert hook_receiver.app.received[0]["authorization"] == "Basic " + base64.b64encode(b"hub:s3cret").decode()
    record = maxma_emulator.app.state()["webhooks"][-1]
    assert [a["status"] for a in record["attempts"]] == [500, 500, 200] and record["delivered"]
    requests.post(f"{hook_receiver.url}/_emulator/faults", json={"status": 403, "times": 5}, timeout=5)
    call(maxma_emulator, "adjust-balance", {"client": {"phoneNumber": PHONE},
                                            "balanceAdjustment": {"amountDelta": 10}})
    maxma_emulator.app.wait_deliveries()
    record = maxma_emulator.app.state()["webhooks"][-1]
    assert [a["status"] for a in record["attempts"]] == [403] and not record["delivered"]


def test_runs_as_a_process():
    with EmulatorProcess("maxma", "--processing-key", "cli-key") as process:
        assert process.state()["credentials"]["processing_key"] == "cli-key"
        reply = requests.post(f"{process.url}/get-balance", json={"phoneNumber": PHONE},
                              headers={"X-Processing-Key": "cli-key"}, timeout=5).json()
        assert reply["errorCode"] == 3


def test_update_client_checks_duplicates_and_raises_client_changed(maxma_emulator):
    new_client(maxma_emulator)
    new_client(maxma_emulator, "+79990000000", email="taken@example.com")
    changed = call(maxma_emulator, "update-client", {"phoneNumber": PHONE, "client": {"surname": "Петрова"}})
    assert changed["client"]["surname"] == "Петрова"
    assert call(maxma_emulator, "update-client", {"phoneNumber": PHONE, "client": {
        "email": "TAKEN@example.com"}})["errorCode"] == 48
    event = maxma_emulator.app.state()["events"][-1]
    assert event["event"] == "EVENT_CLIENT_CHANGED"
    assert event["EVENT_CLIENT_CHANGED"]["clientData"]["surname"] == "Петрова"
    bad = requests.post(f"{maxma_emulator.url}/_emulator/faults", json={"earn_percent": "x", "pending_days": 3},
                        timeout=5)
    assert bad.status_code == 500 and maxma_emulator.app.pending_days == 0  # nothing half-applied
