"""The loyalty API as a till uses it: a key, calculate, confirm (idempotent by order),
refusals with reasons (kept in the inbox), refund."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from hub.models import Card, Contact, Inbox, Product, ProductCategory
from loyalty.models import Account, PurchaseLimit, Receipt
from loyalty.services.api_keys import api_key_create
from loyalty.services.ledger import ledger_earn, program_default

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def till():
    program = program_default()
    program.earn_percent, program.max_redeem_share = D(5), D(50)
    program.save()
    key, secret = api_key_create("Касса 1", program)
    return key, secret


@pytest.fixture
def anna():
    contact = Contact.objects.create(first_name="Анна", phone="+79990000001")
    Card.objects.create(code="C-001", contact=contact)
    return contact


@pytest.fixture
def ticket():
    return Product.objects.create(name="Билет", sku="T-1", category=ProductCategory.objects.create(name="Билеты"))


def post(client, path, body, secret="", raw=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return client.post(f"/api/loyalty/{path}/", raw if raw is not None else json.dumps(body),
                       content_type="application/json", **headers)


BODY = {"client": {"phone": "8 999 000-00-01"}, "lines": [{"sku": "T-1", "quantity": "2", "amount": "2000"}]}


def test_without_a_key_or_with_a_wrong_one_the_till_is_told_why(client, till):
    answer = post(client, "calculate", BODY)
    assert answer.status_code == 401 and "Authorization" in answer.json()["detail"]
    answer = post(client, "calculate", BODY, "deadbeef.wrong")
    assert answer.status_code == 401 and "Ключ API" in answer.json()["detail"]
    key, secret = till
    key.active = False
    key.save()
    assert post(client, "calculate", BODY, secret).status_code == 401


def test_calculate_then_confirm_twice_then_refund(client, till, anna, ticket):
    _, secret = till
    ledger_earn(anna, 400, reason="старт", source="manual", idempotency_key="start")
    quote = post(client, "calculate", BODY, secret).json()
    assert quote["ok"] and quote["earn_points"] == "100.00" and quote["max_points"] == "400.00"
    assert quote["explanation"] and quote["lines"][0]["product"] == ticket.pk
    assert not Receipt.objects.exists()

    body = {**BODY, "client": {"card": "C-001"}, "order": "K1-0001", "points": "400"}
    first = post(client, "confirm", body, secret)
    assert first.status_code == 201, first.json()
    assert first.json()["to_pay"] == "1600.00" and first.json()["points_earned"] == "80.00"
    again = post(client, "confirm", body, secret)
    assert again.status_code == 201 and again.json()["receipt"] == first.json()["receipt"]
    assert Account.objects.get(contact=anna).balance == D(80)

    refund = post(client, "refund", {"order": "K1-0001"}, secret)
    assert refund.status_code == 200 and refund.json()["status"] == "refunded"
    assert Account.objects.get(contact=anna).balance == D(400)
    assert post(client, "refund", {"order": "nope"}, secret).status_code == 404


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"lines": BODY["lines"]}, 400, "client"),
    ({"client": {}, "lines": BODY["lines"]}, 400, "телефон, карту или id"),
    ({"client": {"phone": "8 999 000-00-01"}, "lines": []}, 400, ""),
    ({"client": {"phone": "8 999 000-00-01"}, "lines": [{"sku": "T-1", "amount": "-5"}]}, 400, ""),
    ({"client": {"phone": "8 999 000-00-01"}, "lines": [{"sku": "NOPE", "amount": "5"}]}, 404, "NOPE"),
    ({"client": {"phone": "12"}, "lines": BODY["lines"]}, 404, "Телефон не распознан"),
    ({"client": {"phone": "+79995554433"}, "lines": BODY["lines"]}, 404, "Клиент не найден"),
    ({"client": {"card": "NO-CARD"}, "lines": BODY["lines"]}, 404, "Клиент не найден"),
    ({**BODY, "order": ""}, 400, "номер заказа"),
    ({**BODY, "order": "X", "points": "abc"}, 400, ""),
])
def test_bad_confirms_get_a_reason_and_are_kept(client, till, anna, ticket, body, status, reason):
    _, secret = till
    sent = {"order": "K-bad", **body}
    answer = post(client, "confirm", sent, secret)
    assert answer.status_code == status and reason in answer.json()["detail"] and answer.json()["detail"]
    kept = Inbox.objects.get(source=f"loyalty-api:{till[0].pk}")
    assert kept.status == Inbox.Status.REJECTED and json.loads(kept.raw_body) == sent


def test_a_body_that_is_not_json_is_a_400(client, till):
    answer = post(client, "confirm", None, till[1], raw="{not json")
    assert answer.status_code == 400 and answer.json()["detail"] == "Тело запроса — не JSON."


def test_a_refused_receipt_is_a_409_with_every_reason(client, till, anna, ticket):
    _, secret = till
    limit = PurchaseLimit.objects.create(program=till[0].program, name="Один билет", measure="quantity",
                                         max_value=D(1), period="day")
    limit.products.add(ticket)
    answer = post(client, "confirm", {**BODY, "order": "K1-2", "promo_codes": ["NOPE"], "points": "10"}, secret)
    assert answer.status_code == 409
    kinds = {r["kind"] for r in answer.json()["refusals"]}
    assert kinds == {"limit", "promo", "points"} and "Один билет" in answer.json()["detail"]
    quote = post(client, "calculate", {**BODY, "promo_codes": ["NOPE"]}, secret).json()
    assert not quote["ok"] and any("NOPE" in r["reason"] for r in quote["refusals"])


def test_the_schema_lists_the_loyalty_api(client):
    schema = client.get("/api/loyalty/schema/").content.decode()
    assert "/api/loyalty/confirm/" in schema and "/api/loyalty/calculate/" in schema
