"""The UDS emulator over real HTTP, against the public partner API v2 description.

Base tier of the emulated company: cashback 5 %, at most 50 % of a bill payable by points.
"""

import datetime as dt
import uuid

import pytest
import requests

from connectors.base.emulator import EmulatorProcess

COMPANY, KEY = "549755813888", "emu-key"


def call(emu, method, path, *, auth=(COMPANY, KEY), request_id=True, **kwargs):
    headers = {"X-Timestamp": dt.datetime.now(dt.UTC).isoformat(), **kwargs.pop("headers", {})}
    if request_id:
        headers.setdefault("X-Origin-Request-Id", str(uuid.uuid4()))
    return requests.request(method, f"{emu.url}/partner/v2{path}", auth=auth, headers=headers, timeout=5, **kwargs)


def join(emu, phone, name="Анна Смирнова", **extra):
    """A customer joins in the UDS app (emulator knob)."""
    answer = requests.post(f"{emu.url}/_emulator/customers", json={"phone": phone, "name": name, **extra}, timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()


def user(emu, phone):
    return call(emu, "GET", "/customers/find", params={"phone": phone}).json()["user"]


def balance(emu, phone):
    return user(emu, phone)["participant"]["points"]


def buy(emu, receipt, nonce=None, **who):
    body = {"nonce": nonce or str(uuid.uuid4()), "receipt": receipt, **who}
    return call(emu, "POST", "/operations", json=body)


def test_basic_auth_request_id_and_settings(uds_emulator):
    assert call(uds_emulator, "GET", "/settings", auth=None).json()["errorCode"] == "unauthorized"
    wrong = call(uds_emulator, "GET", "/settings", auth=(COMPANY, "nope"))
    assert wrong.status_code == 401 and set(wrong.json()) == {"errorCode", "message"}
    missing = call(uds_emulator, "GET", "/settings", request_id=False)
    assert missing.status_code == 400 and missing.json()["errorCode"] == "badRequest"

    origin = str(uuid.uuid4())
    ok = call(uds_emulator, "GET", "/settings", headers={"X-Origin-Request-Id": origin})
    settings = ok.json()
    assert ok.status_code == 200 and ok.headers["X-Origin-Request-Id"] == origin and ok.headers["X-Request-Id"]
    assert settings["id"] == 549755813888 and settings["baseDiscountPolicy"] == "CHARGE_SCORES"
    base = settings["loyaltyProgramSettings"]["baseMembershipTier"]
    assert (base["rate"], base["maxScoresDiscount"]) == (5, 50)

    requests.post(f"{uds_emulator.url}/_emulator/faults", json={"require_request_id": False}, timeout=5)
    assert call(uds_emulator, "GET", "/settings", request_id=False).status_code == 200
    assert uds_emulator.app.credentials() == {"company_id": COMPANY, "api_key": KEY}


def test_find_by_phone_uid_and_code(uds_emulator):
    joined = join(uds_emulator, "+79123456789", points=1000)
    found = call(uds_emulator, "GET", "/customers/find", params={"phone": "+79123456789"}).json()
    who = found["user"]
    assert (who["uid"], who["phone"], who["displayName"]) == (joined["uid"], "+79123456789", "Анна Смирнова")
    assert who["participant"]["id"] == joined["id"] and who["participant"]["points"] == 1000
    assert {"uid", "name", "rate", "maxScoresDiscount"} <= who["participant"]["membershipTier"].keys()
    assert found["purchase"] is None and found["code"] is None

    by_uid = call(uds_emulator, "GET", "/customers/find", params={"uid": joined["uid"]}).json()
    assert by_uid["user"]["participant"]["id"] == joined["id"]
    by_code = call(uds_emulator, "GET", "/customers/find", params={"code": joined["code"], "total": 1000}).json()
    assert by_code["purchase"]["maxPoints"] == 500 and by_code["purchase"]["cashBack"] == 25

    # an unencoded '+' in the query is a space to the server: nobody is found
    raw = requests.get(f"{uds_emulator.url}/partner/v2/customers/find?phone=+79123456789", auth=(COMPANY, KEY),
                       headers={"X-Origin-Request-Id": str(uuid.uuid4())}, timeout=5)
    assert raw.status_code == 404 and raw.json()["errorCode"] == "notFound"
    unknown = call(uds_emulator, "GET", "/customers/find", params={"phone": "+79990000000"})
    assert unknown.status_code == 404 and set(unknown.json()) == {"errorCode", "message"}

    exchanged = call(uds_emulator, "GET", "/customers/find",
                     params={"code": joined["code"], "exchangeCode": "true"}).json()["code"]
    assert len(exchanged) > 6
    assert call(uds_emulator, "GET", "/customers/find", params={"code": joined["code"]}).status_code == 404
    assert call(uds_emulator, "GET", "/customers/find", params={"code": exchanged}).status_code == 200
    assert call(uds_emulator, "GET", f"/customers/{joined['id']}").json()["uid"] == joined["uid"]


def test_calc_caps_points_by_share_of_bill_and_balance(uds_emulator):
    rich = join(uds_emulator, "+79123456789", points=1000)
    full = call(uds_emulator, "POST", "/operations/calc", json={"code": rich["code"], "receipt": {"total": 1000}})
    purchase = full.json()["purchase"]
    assert full.json()["user"]["uid"] == rich["uid"]
    assert (purchase["maxPoints"], purchase["points"], purchase["cash"], purchase["cashBack"]) == (500, 500, 500, 25)

    receipt = {"total": 1000, "points": 100, "skipLoyaltyTotal": 200, "unredeemableTotal": 100}
    capped = call(uds_emulator, "POST", "/operations/calc", json={"code": rich["code"], "receipt": receipt}).json()
    # (1000 - 200 - 100) * 50 % = 350 may be redeemed; cashback 5 % of (900 - 200)
    assert capped["purchase"]["maxPoints"] == 350 and capped["purchase"]["cash"] == 900
    assert capped["purchase"]["cashBack"] == 35
    over = call(uds_emulator, "POST", "/operations/calc",
                json={"code": rich["code"], "receipt": {**receipt, "points": 400}})
    assert over.status_code == 400 and over.json()["errorCode"] == "discountLimitExceed"

    join(uds_emulator, "+79120000001", points=100)
    poor = {"participant": {"phone": "+79120000001"}}
    assert call(uds_emulator, "POST", "/operations/calc",
                json={**poor, "receipt": {"total": 1000}}).json()["purchase"]["maxPoints"] == 100
    short = call(uds_emulator, "POST", "/operations/calc", json={**poor, "receipt": {"total": 1000, "points": 150}})
    assert short.status_code == 400 and short.json()["errorCode"] == "insufficientFunds"

    by_uid = {"participant": {"uid": rich["uid"]}}
    assert call(uds_emulator, "POST", "/operations/calc",
                json={**by_uid, "receipt": {"total": 1000}}).json()["purchase"]["maxPoints"] == 0
    redeem = call(uds_emulator, "POST", "/operations/calc", json={**by_uid, "receipt": {"total": 1000, "points": 10}})
    assert redeem.status_code == 400 and redeem.json()["errorCode"] == "withdrawNotPermitted"
    nobody = call(uds_emulator, "POST", "/operations/calc",
                  json={"participant": {"phone": "+79990000000"}, "receipt": {"total": 10}})
    assert nobody.status_code == 404


def test_purchase_is_idempotent_by_nonce_and_checked(uds_emulator):
    joined = join(uds_emulator, "+79123456789", points=1000)
    body = {"code": joined["code"], "nonce": str(uuid.uuid4()), "cashier": {"externalId": "c-1", "name": "Ольга"},
            "receipt": {"total": 1000, "cash": 700, "points": 300, "number": "R-1"}}
    first = call(uds_emulator, "POST", "/operations", json=body)
    op = first.json()
    assert first.status_code == 200
    assert (op["action"], op["state"], op["points"], op["cash"], op["total"]) == ("PURCHASE", "NORMAL", -300, 700, 1000)
    assert op["customer"]["id"] == joined["id"] and op["cashier"]["displayName"] == "Ольга"
    assert op["receiptNumber"] == "R-1" and op["origin"] is None and op["branch"]["id"]
    assert balance(uds_emulator, "+79123456789") == 735  # 1000 - 300 + 5 % of 700

    again = call(uds_emulator, "POST", "/operations", json=body)
    assert again.json() == op and balance(uds_emulator, "+79123456789") == 735
    assert len(uds_emulator.app.state()["operations"]) == 1

    spent = buy(uds_emulator, {"total": 100, "cash": 100, "points": 0}, code=joined["code"])
    assert spent.status_code == 404  # the payment code was used up by the purchase
    phone = {"participant": {"phone": "+79123456789"}}
    mismatch = buy(uds_emulator, {"total": 1000, "cash": 800, "points": 300}, **phone)
    assert mismatch.status_code == 400 and mismatch.json()["errorCode"] == "invalidChecksum"
    greedy = buy(uds_emulator, {"total": 100, "cash": 40, "points": 60}, **phone)
    assert greedy.json()["errorCode"] == "discountLimitExceed"
    by_uid = buy(uds_emulator, {"total": 100, "cash": 90, "points": 10}, participant={"uid": joined["uid"]})
    assert by_uid.json()["errorCode"] == "withdrawNotPermitted"
    assert buy(uds_emulator, {"total": 100, "cash": 100, "points": 0}, **phone).json()["points"] == 0
    assert balance(uds_emulator, "+79123456789") == 740


def test_refund_partial_then_full(uds_emulator):
    joined = join(uds_emulator, "+79123456789", points=1000)
    op = buy(uds_emulator, {"total": 1000, "cash": 700, "points": 300}, code=joined["code"]).json()

    part = call(uds_emulator, "POST", f"/operations/{op['id']}/refund", json={"partialAmount": 100})
    refund = part.json()
    assert part.status_code == 200 and refund["id"] != op["id"]
    assert (refund["action"], refund["state"], refund["origin"]) == ("PURCHASE", "REVERSAL", {"id": op["id"]})
    assert (refund["total"], refund["cash"], refund["points"]) == (-100, -70, 30)
    assert balance(uds_emulator, "+79123456789") == 761.5  # 735 + 30 returned - 3.5 cashback taken back

    too_much = call(uds_emulator, "POST", f"/operations/{op['id']}/refund", json={"partialAmount": 1000})
    assert too_much.status_code == 400 and too_much.json()["errorCode"] == "badRequest"
    rest = call(uds_emulator, "POST", f"/operations/{op['id']}/refund", json={"partialAmount": None}).json()
    assert (rest["total"], rest["cash"], rest["points"]) == (-900, -630, 270)
    assert balance(uds_emulator, "+79123456789") == 1000
    assert call(uds_emulator, "POST", f"/operations/{op['id']}/refund", json={}).status_code == 400
    assert call(uds_emulator, "POST", f"/operations/{rest['id']}/refund", json={}).status_code == 400
    assert user(uds_emulator, "+79123456789")["participant"]["fullRefundsCount"] == 1

    missing = call(uds_emulator, "POST", "/operations/1/refund", json={})
    assert missing.status_code == 404 and missing.json()["errorCode"] == "notFound"
    second = buy(uds_emulator, {"total": 200, "cash": 200, "points": 0},
                 participant={"phone": "+79123456789"}).json()
    bare = call(uds_emulator, "POST", f"/operations/{second['id']}/refund")  # no body: a full refund
    assert bare.json()["total"] == -200 and balance(uds_emulator, "+79123456789") == 1000
    assert call(uds_emulator, "GET", f"/operations/{op['id']}").json()["state"] == "NORMAL"


def test_reward_grants_each_time_and_deducts(uds_emulator):
    joined = join(uds_emulator, "+79123456789")
    grant = {"points": 50, "comment": "Подарок за отзыв #7", "silent": True, "participants": [joined["id"]]}
    first = call(uds_emulator, "POST", "/operations/reward", json=grant)
    assert first.status_code == 202 and first.json() == {"accepted": 1}
    assert call(uds_emulator, "POST", "/operations/reward", json=grant).json() == {"accepted": 1}
    assert balance(uds_emulator, "+79123456789") == 100  # no idempotency key: granted twice

    take = {"points": -30, "comment": "Списание", "participants": [str(joined["id"])]}
    assert call(uds_emulator, "POST", "/operations/reward", json=take).json() == {"accepted": 1}
    assert call(uds_emulator, "POST", "/operations/reward",
                json={**take, "points": -500}).json() == {"accepted": 0}
    assert call(uds_emulator, "POST", "/operations/reward", json={**grant, "participants": [1]}).json() == {
        "accepted": 0}
    assert balance(uds_emulator, "+79123456789") == 70

    rows = call(uds_emulator, "GET", "/operations").json()["rows"]
    assert [(r["action"], r["points"], r["comment"]) for r in rows] == [
        ("REWARD", -30, "Списание"), ("REWARD", 50, "Подарок за отзыв #7"), ("REWARD", 50, "Подарок за отзыв #7")]
    assert rows[0]["customer"]["id"] == joined["id"]
    zero = call(uds_emulator, "POST", "/operations/reward", json={**grant, "points": 0})
    assert zero.status_code == 400


def test_history_pages_newest_first_by_cursor_and_offset(uds_emulator):
    joined = join(uds_emulator, "+79123456789")
    for n in range(1, 13):
        call(uds_emulator, "POST", "/operations/reward",
             json={"points": 1, "comment": str(n), "participants": [joined["id"]]})
    first = call(uds_emulator, "GET", "/operations", params={"max": 5}).json()
    assert [r["comment"] for r in first["rows"]] == ["12", "11", "10", "9", "8"]
    assert first["total"] == 0 and first["cursor"]  # UDS answers total 0 since 2021
    second = call(uds_emulator, "GET", "/operations", params={"max": 5, "cursor": first["cursor"]}).json()
    assert [r["comment"] for r in second["rows"]] == ["7", "6", "5", "4", "3"]
    last = call(uds_emulator, "GET", "/operations", params={"max": 5, "cursor": second["cursor"]}).json()
    assert [r["comment"] for r in last["rows"]] == ["2", "1"] and last["cursor"] is None
    by_offset = call(uds_emulator, "GET", "/operations", params={"max": 5, "offset": 10}).json()
    assert [r["comment"] for r in by_offset["rows"]] == ["2", "1"]
    assert len(call(uds_emulator, "GET", "/operations").json()["rows"]) == 10  # default max
    for bad in ({"max": 51}, {"max": 0}, {"offset": 10001}, {"cursor": "%%%"}):
        answer = call(uds_emulator, "GET", "/operations", params=bad)
        assert answer.status_code == 400 and answer.json()["errorCode"] == "badRequest", bad


def test_error_bodies(uds_emulator):
    joined = join(uds_emulator, "+79123456789", points=10)
    unknown = call(uds_emulator, "GET", "/nothing/here")
    assert unknown.status_code == 404 and unknown.json()["errorCode"] == "notFound"
    assert call(uds_emulator, "GET", "/operations/calc").status_code == 404
    garbled = call(uds_emulator, "POST", "/operations/calc", data=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert garbled.status_code == 400 and garbled.json()["errorCode"] == "badRequest"
    no_cash = buy(uds_emulator, {"total": 100, "points": 0}, code=joined["code"])
    assert no_cash.status_code == 400
    assert no_cash.json()["errors"][0]["field"] == "receipt.cash"
    fractional = buy(uds_emulator, {"total": 100.005, "cash": 100.005, "points": 0}, code=joined["code"])
    assert fractional.status_code == 400 and fractional.json()["errors"][0]["errorCode"] == "scale"
    nobody = buy(uds_emulator, {"total": 100, "cash": 100, "points": 0})
    assert nobody.status_code == 400 and nobody.json()["errorCode"] == "badRequest"
    bad_cashier = buy(uds_emulator, {"total": 100, "cash": 100, "points": 0}, code=joined["code"],
                      cashier={"externalId": "касса 1"})
    assert bad_cashier.status_code == 400
    requests.post(f"{uds_emulator.url}/_emulator/faults", json={"settings": {"purchaseByPhone": False}}, timeout=5)
    disabled = buy(uds_emulator, {"total": 100, "cash": 100, "points": 0}, participant={"phone": "+79123456789"})
    assert disabled.json()["errorCode"] == "purchaseByPhoneDisabled"


def test_knobs_customers_codes_venue_operations_and_unregistered_phones(uds_emulator):
    url = uds_emulator.url
    joined = join(uds_emulator, "+79123456789", points=100)
    assert requests.post(f"{url}/_emulator/customers", json={"phone": "+79123456789", "name": "Дубль"},
                         timeout=5).status_code == 409
    assert requests.post(f"{url}/_emulator/customers", json={"phone": "89123456789", "name": "Без плюса"},
                         timeout=5).status_code == 400

    code = requests.post(f"{url}/_emulator/code", json={"phone": "+79123456789"}, timeout=5).json()["code"]
    assert code != joined["code"] and len(code) == 6
    assert call(uds_emulator, "GET", "/customers/find", params={"code": code}).status_code == 200
    requests.post(f"{url}/_emulator/faults", json={"expire_codes": True}, timeout=5)
    assert call(uds_emulator, "GET", "/customers/find", params={"code": code}).status_code == 404

    manual = requests.post(f"{url}/_emulator/operate", json={"phone": "+79123456789", "points": 200,
                                                             "comment": "Кассир: компенсация"}, timeout=5).json()
    assert manual["points"] == 300 and manual["operation"]["comment"] == "Кассир: компенсация"
    venue = requests.post(f"{url}/_emulator/operate", json={"phone": "+79123456789", "total": 1000, "points": 100},
                          timeout=5).json()
    assert venue["operation"]["action"] == "PURCHASE" and venue["points"] == 245  # 300 - 100 + 5 % of 900
    assert call(uds_emulator, "GET", "/operations").json()["rows"][0]["id"] == venue["operation"]["id"]

    # UDS takes a purchase with an unknown phone; the cashback waits until the phone joins
    anonymous = buy(uds_emulator, {"total": 200, "cash": 200, "points": 0}, participant={"phone": "+79990000000"})
    assert anonymous.status_code == 200 and anonymous.json()["customer"]["id"] is None
    newcomer = join(uds_emulator, "+79990000000", name="Пётр")
    assert newcomer["points"] == 10
    assert call(uds_emulator, "GET", f"/operations/{anonymous.json()['id']}").json()["customer"]["id"] == newcomer["id"]

    big = buy(uds_emulator, {"total": 20000, "cash": 20000, "points": 0}, participant={"phone": "+79990000000"})
    assert big.status_code == 200
    assert user(uds_emulator, "+79990000000")["participant"]["membershipTier"]["uid"] == "silver"

    state = uds_emulator.app.state()
    assert {c["phone"] for c in state["customers"]} == {"+79123456789", "+79990000000"}
    assert len(state["operations"]) == 4
    requests.post(f"{url}/_emulator/reset", timeout=5)
    assert uds_emulator.app.state()["customers"] == []


@pytest.mark.parametrize("args", [("--company-id", "42", "--api-key", "cli-key")])
def test_runs_as_a_module(args):
    with EmulatorProcess("uds", *args) as process:
        answer = requests.get(f"{process.url}/partner/v2/settings", auth=("42", "cli-key"),
                              headers={"X-Origin-Request-Id": str(uuid.uuid4())}, timeout=10)
        assert answer.json()["id"] == 42
