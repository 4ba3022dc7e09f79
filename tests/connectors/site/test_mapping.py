"""The site's payloads as the hub reads and writes them: ticket orders good and bad (each bad
one with its reason), the Inbox round trip, signing, and the bodies sent to the site."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hmac
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from connectors.site import mapping
from hub.sync.errors import FatalError
from tests.connectors.site.samples import ORDER

MSK = ZoneInfo("Europe/Moscow")
SAMPLE = ORDER


def _with(**changes):
    """The PROTOCOL sample with ``a__b__0__c`` paths set; the value ``...`` deletes the key."""
    data = copy.deepcopy(SAMPLE)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return data


def test_the_protocol_sample_reads_as_a_sale():
    sale = mapping.sale_from_webhook(SAMPLE)
    assert sale == mapping.Sale(
        event_key="evt-1", type="order.paid", order_id="1001", event_id="42",
        created_at=dt.datetime(2026, 12, 1, 10, tzinfo=MSK), refunded_at=None, first_name="Анна",
        last_name="Петрова", phone="+7 916 000-00-01", email="anna@example.ru",
        tickets=[mapping.Ticket(product_id="77", name="Взрослый билет", price=Decimal("1500.00"), quantity=2)],
        amount=Decimal("3000.00"))
    assert not sale.refunded


@pytest.mark.parametrize(("data", "check"), [
    (_with(type="order.refunded", order__refunded_at="2026-12-02T09:00:00Z"),
     lambda s: s.refunded and s.refunded_at == dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)),
    (_with(type="order.refunded"), lambda s: s.refunded and s.refunded_at is None),  # the hub uses arrival time
    (_with(id=555, order__id=1001, order__event_id=42, order__tickets__0__product_id=77),
     lambda s: (s.event_key, s.order_id, s.event_id, s.tickets[0].product_id) == ("555", "1001", "42", "77")),
    (_with(order__buyer__name="Анна Петрова", order__buyer__last_name=...),
     lambda s: (s.first_name, s.last_name) == ("Анна Петрова", "")),
    (_with(order__buyer={"phone": "89160000001"}), lambda s: (s.first_name, s.email, s.phone) == ("", "",
                                                                                                   "89160000001")),
    (_with(order__amount=3000, order__tickets__0__price=1499.999, order__tickets__0__quantity="2"),
     lambda s: (s.amount, s.tickets[0].price, s.tickets[0].quantity) == (Decimal("3000.00"), Decimal("1500.00"), 2)),
    (_with(order__tickets__0__price="0"), lambda s: s.tickets[0].price == Decimal("0.00")),  # an invitation
    (_with(order__tickets__0__name="Б" * 300), lambda s: s.tickets[0].name == "Б" * 255),
    (_with(order__buyer__name="А" * 300), lambda s: len(s.first_name) == 255),
    (_with(order__tickets=[SAMPLE["order"]["tickets"][0]] * 200), lambda s: len(s.tickets) == 200),
])
def test_good_bodies(data, check):
    assert check(mapping.sale_from_webhook(data))


@pytest.mark.parametrize(("data", "reason"), [
    ([SAMPLE], "JSON-объектом"),
    ("order", "JSON-объектом"),
    (_with(id=...), "id: нужен идентификатор"),
    (_with(id="  "), "id: пустой идентификатор"),
    (_with(id=True), "id: нужен идентификатор"),
    (_with(id="x" * 256), "длиннее 255"),
    (_with(type=...), "неизвестный тип события None"),
    (_with(type="order.created"), "неизвестный тип события 'order.created'"),
    (_with(order=...), "order: нужен объект заказа"),
    (_with(order=[]), "order: нужен объект заказа"),
    (_with(order__id=...), "order.id: нужен идентификатор"),
    (_with(order__event_id=...), "order.event_id: нужен идентификатор"),
    (_with(order__event_id={"id": 1}), "order.event_id: нужен идентификатор"),
    (_with(order__created_at=...), "order.created_at: не указано время"),
    (_with(order__created_at="2026-12-01T10:00:00"), "без часового пояса"),
    (_with(order__created_at="1 декабря"), "не время в ISO 8601"),
    (_with(order__created_at=1764572400), "строкой ISO 8601"),
    (_with(type="order.refunded", order__refunded_at="2026-12-02 09:00"), "order.refunded_at: время без"),
    (_with(order__buyer="Анна"), "order.buyer: нужен объект"),
    (_with(order__buyer__phone=["+79160000001"]), "order.buyer.phone: нужна строка"),
    (_with(order__buyer__email="a" * 251 + "@x.ru"), "order.buyer.email: длиннее 255"),
    (_with(order__tickets=...), "непустой список билетов"),
    (_with(order__tickets=[]), "непустой список билетов"),
    (_with(order__tickets={"0": {}}), "непустой список билетов"),
    (_with(order__tickets=[SAMPLE["order"]["tickets"][0]] * 201), "201 строк — больше 200"),
    (_with(order__tickets=["77"]), "order.tickets[0]: билет должен быть объектом"),
    (_with(order__tickets__0__product_id=...), "order.tickets[0].product_id"),
    (_with(order__tickets__0__price="дорого"), "order.tickets[0].price: не число"),
    (_with(order__tickets__0__price="NaN"), "order.tickets[0].price: не число"),
    (_with(order__tickets__0__price="-1.00"), "отрицательная сумма"),
    (_with(order__tickets__0__price="1e30"), "слишком большая сумма"),
    (_with(order__tickets__0__price=None), "нужна сумма"),
    (_with(order__tickets__0__quantity=0), "целым положительным"),
    (_with(order__tickets__0__quantity=-2), "целым положительным"),
    (_with(order__tickets__0__quantity=1.5), "целым положительным"),
    (_with(order__tickets__0__quantity=True), "целым положительным"),
    (_with(order__tickets__0__quantity=10_001), "неправдоподобное количество"),
    (_with(order__amount=...), "order.amount: нужна сумма"),
    (_with(order__amount="-3000"), "order.amount: отрицательная сумма"),
])
def test_bad_bodies_are_refused_with_a_reason(data, reason):
    with pytest.raises(ValidationError) as caught:
        mapping.sale_from_webhook(data)
    assert reason in caught.value.messages[0]


def test_the_inbox_copy_round_trips():
    for data in (SAMPLE, _with(type="order.refunded", order__refunded_at="2026-12-02T09:00:00+03:00")):
        sale = mapping.sale_from_webhook(data)
        payload = mapping.sale_to_payload(sale)
        assert mapping.sale_from_payload(payload) == sale
        assert all(isinstance(v, str | int | list | type(None)) for v in payload.values())  # JSON-safe
    with pytest.raises(ValidationError, match="не читается"):
        mapping.sale_from_payload({"event_key": "x"})


# signing ---------------------------------------------------------------------------------------------
def test_sign_covers_the_timestamp_and_the_body():
    signature = mapping.sign("s3cret", 1700000000, b'{"a":1}')
    assert signature == "sha256=" + hmac.new(b"s3cret", b'1700000000.{"a":1}', "sha256").hexdigest()
    assert mapping.sign("s3cret", 1700000001, b'{"a":1}') != signature


@pytest.mark.parametrize(("secret", "timestamp", "signature", "body", "now", "reason"), [
    ("s", "1000", "{sig}", b"{}", 1000, ""),
    ("s", " 1000 ", "{sig}", b"{}", 1300, ""),  # exactly MAX_SKEW
    ("s", "1000", "{sig}", b"{}", 700, ""),
    ("", "1000", "{sig}", b"{}", 1000, "no shared secret"),
    ("s", None, "{sig}", b"{}", 1000, "missing X-Hub-Timestamp"),
    ("s", "", "{sig}", b"{}", 1000, "missing X-Hub-Timestamp"),
    ("s", "1000.5", "{sig}", b"{}", 1000, "invalid X-Hub-Timestamp"),
    ("s", "١٠٠٠", "{sig}", b"{}", 1000, "invalid X-Hub-Timestamp"),  # non-ASCII digits
    ("s", "1000", "{sig}", b"{}", 1301, "too old"),
    ("s", "1000", "{sig}", b"{}", 699, "in the future"),
    ("s", "1000", None, b"{}", 1000, "missing X-Hub-Signature"),
    ("s", "1000", "{sig}", b'{"a":1}', 1000, "bad signature"),  # body tampered
    ("s", "1001", "{sig}", b"{}", 1000, "bad signature"),  # timestamp tampered
    ("other", "1000", "{sig}", b"{}", 1000, "bad signature"),
    ("s", "1000", "sha1=abc", b"{}", 1000, "bad signature"),
])
def test_signature_problem(secret, timestamp, signature, body, now, reason):
    good = mapping.sign("s", 1000, b"{}")
    sent = good if signature == "{sig}" else signature
    problem = mapping.signature_problem(secret, timestamp, sent, body, now)
    assert (reason in problem) if reason else problem == ""


# bodies sent to the site ---------------------------------------------------------------------------------
def test_template_body_carries_the_picture_in_base64():
    body = mapping.template_body("Т" * 300, "<p>x</p>", ("poster.png", "image/png", b"\x89PNG..."))
    assert len(body["title"]) == 255 and body["description_html"] == "<p>x</p>"
    assert body["image"]["name"] == "poster.png" and body["image"]["content_type"] == "image/png"
    assert base64.b64decode(body["image"]["data"]) == b"\x89PNG..."
    assert mapping.template_body("x", "", None)["image"] is None
    assert (mapping.template_xml_id(5), mapping.event_xml_id(5)) == ("hub-t-5", "hub-e-5")


def test_event_body_sends_only_the_released_values():
    starts = dt.datetime(2026, 12, 5, 18, 30, tzinfo=MSK)
    assert mapping.event_body("11", {}) == {"template_id": "11"}
    assert mapping.event_body("11", {"starts_at": starts, "speaker": "Иван", "other": 1}) == {
        "template_id": "11", "starts_at": "2026-12-05T18:30:00+03:00", "speaker": "Иван"}
    assert mapping.event_body("11", {"starts_at": None, "host": None, "title": "Крыши"}) == {
        "template_id": "11", "starts_at": None, "host": "", "title": "Крыши"}
    with pytest.raises(FatalError, match="aware datetime"):
        mapping.event_body("11", {"starts_at": dt.datetime(2026, 12, 5, 18, 30)})


@pytest.mark.parametrize(("order", "reason"), [
    ({"tickets": [{"product_id": "1", "name": "VIP", "price": "9999999999.00", "quantity": 2}]}, "слишком большая"),
    ({"id": "9" * 65}, "длиннее 64"),
    ({"event_id": "e" * 65}, "длиннее 64"),
])
def test_what_the_hub_could_not_store_is_refused_at_the_door(order, reason):
    with pytest.raises(ValidationError, match=reason):
        mapping.sale_from_webhook({**SAMPLE, "order": {**SAMPLE["order"], **order}})
