"""Reading Tilda's bodies: every encoding of a cart, every product shape, field names in any
case, and garbage refused with a reason."""

from __future__ import annotations

import json
import urllib.parse
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from connectors.tilda import mapping

FORM = "application/x-www-form-urlencoded"

# A captured body with a flattened cart (github.com/marchshares/azure, OrderProcessorTest.java),
# URL-encoded here as Tilda sends it.
CAPTURED = ("Form=Cart&Name=Имя Фамилия&Phone=+7 (999) 111-2233&Email=email@yandex.ru"
            "&deliveryType=Доставка курьером (Москва, Спб) 300 руб. = 300&city=Москва&deliveryAddress=адрес такой-то"
            "&comment=коммент&payment[sys]=none&payment[systranid]=0&payment[orderid]=1557604691"
            "&payment[products][0][name]=Wacaco Minipresso GR&payment[products][0][sku]=WCCMP"
            "&payment[products][0][quantity]=1&payment[products][0][amount]=4500&payment[products][0][price]=4500"
            "&payment[products][1][name]=Nanopresso Patrol Orange&payment[products][1][sku]=WCCN84"
            "&payment[products][1][quantity]=1&payment[products][1][amount]=5200&payment[products][1][price]=5200"
            "&payment[amount]=24450&formid=form42581206&formname=Cart&tranid=1234567:77")


def _encoded(text: str) -> bytes:
    """A decoded ``a=b&c=d`` text (as the sources print it) encoded as it travels."""
    return urllib.parse.urlencode([tuple(pair.split("=", 1)) for pair in text.split("&")]).encode()


def _sub(raw: bytes | str, content_type: str = FORM) -> mapping.Submission:
    return mapping.submission(mapping.read_body(raw.encode() if isinstance(raw, str) else raw, content_type))


def test_the_captured_flattened_cart_reads_as_lines_and_the_form_as_fields():
    sub = _sub(_encoded(CAPTURED))
    assert (sub.tranid, sub.formid, sub.formname) == ("1234567:77", "form42581206", "Cart")
    assert sub.fields["Phone"] == "+7 (999) 111-2233" and "payment[amount]" not in sub.fields
    cart = mapping.order(sub.payment)
    assert cart.orderid == "1557604691" and cart.amount == Decimal("24450.00")
    assert [(ln.name, ln.sku, ln.quantity, ln.price) for ln in cart.lines] == [
        ("Wacaco Minipresso GR", "WCCMP", 1, Decimal("4500.00")),
        ("Nanopresso Patrol Orange", "WCCN84", 1, Decimal("5200.00"))]
    assert mapping.kind_of(sub, {}) == mapping.ORDER


CART = {"orderid": "9001", "amount": "1700",
        "products": [{"name": "Взрослый билет", "quantity": 2, "amount": 1200, "price": 600, "sku": "A-1",
                      "externalid": "ext-1", "options": [{"option": "Дата", "variant": "01.06"}]},
                     {"name": "Детский билет", "quantity": "1", "amount": "500,00"}]}
EXPECTED = [("Взрослый билет (Дата: 01.06)", Decimal(2), Decimal("600.00"), Decimal("1200.00")),
            ("Детский билет", Decimal(1), Decimal("500.00"), Decimal("500.00"))]


@pytest.mark.parametrize("encoding", ["json", "payment-json-string", "payment-flat"])
def test_the_same_cart_reads_the_same_in_each_encoding(encoding):
    fields = {"Name": "Анна", "tranid": "t:1", "formid": "form1"}
    if encoding == "json":
        raw, content_type = json.dumps({**fields, "payment": CART}).encode(), "application/json"
    elif encoding == "payment-json-string":
        raw, content_type = urllib.parse.urlencode({**fields, "payment": json.dumps(CART)}).encode(), FORM
    else:
        from connectors.tilda.emulator import flatten

        raw, content_type = urllib.parse.urlencode([*fields.items(), *flatten("payment", CART)]).encode(), FORM
    cart = mapping.order(_sub(raw, content_type).payment)
    assert [(ln.title, ln.quantity, ln.price, ln.amount) for ln in cart.lines] == EXPECTED
    assert cart.orderid == "9001" and cart.amount == Decimal("1700.00")


def test_a_json_body_with_the_cart_as_a_json_string_inside_json_reads_too():
    raw = json.dumps({"tranid": "t:2", "formid": "f", "payment": json.dumps(CART)}).encode()
    assert [ln.title for ln in mapping.order(_sub(raw, "application/json").payment).lines] == [e[0] for e in EXPECTED]


@pytest.mark.parametrize(("text", "name", "qty", "price", "amount"), [
    ("Взрослый билет=490", "Взрослый билет", 1, "490", "490"),
    ("Билет 3-7 лет=350.50", "Билет 3-7 лет", 1, "350.50", "350.50"),
    ("Взрослый билет - 2x245 = 490", "Взрослый билет", 2, "245", "490"),
    ("Взрослый билет: 3 x 100 = 300 руб.", "Взрослый билет", 3, "100", "300"),
    ("Сертификат = 1 500", "Сертификат", 1, "1500", "1500"),
])
def test_product_strings(text, name, qty, price, amount):
    line = mapping.product(text)
    assert (line.name, line.quantity, line.price, line.amount) == (name, qty, Decimal(price), Decimal(amount))


def test_products_as_strings_in_a_flattened_cart():
    raw = _encoded("tranid=t:3&formid=f&payment[orderid]=5&payment[products][0]=Билет=490"
                   "&payment[products][1]=Полотенце - 2x100 = 200&payment[amount]=690")
    cart = mapping.order(_sub(raw).payment)
    assert [(ln.name, ln.quantity, ln.amount) for ln in cart.lines] == [("Билет", 1, Decimal(490)),
                                                                        ("Полотенце", 2, Decimal(200))]


def test_products_as_a_json_string_inside_the_cart():
    cart = mapping.order({"orderid": "7", "products": json.dumps(["Билет=490", {"name": "Кофе", "price": "150"}])})
    assert [(ln.name, ln.amount) for ln in cart.lines] == [("Билет", Decimal(490)), ("Кофе", Decimal(150))]


def test_unit_price_comes_from_amount_when_only_the_amount_is_given():
    line = mapping.product({"Name": "Абонемент", "Quantity": "3", "Amount": "1000"})
    assert (line.price, line.amount) == (Decimal("333.33"), Decimal("1000.00"))


def test_a_cart_with_only_a_total_is_one_line():
    cart = mapping.order({"orderid": "42", "amount": "990"})
    assert [(ln.name, ln.price) for ln in cart.lines] == [("Заказ Tilda 42", Decimal(990))]


def test_field_names_are_case_insensitive_and_the_site_may_add_its_own():
    sub = _sub(urllib.parse.urlencode({"name": "Олег", "PHONE": "8 912 000-11-22", "e-mail": "OLEG@MAIL.RU",
                                       "tranid": "t", "formid": "f"}))
    who = mapping.person(sub, {})
    assert (who.first_name, who.phone, who.email) == ("Олег", "+79120001122", "oleg@mail.ru")
    sub = _sub(urllib.parse.urlencode({"Ваш телефон": "+79120001123", "tranid": "t", "formid": "f"}))
    assert mapping.person(sub, {"fields": {"phone": "ваш ТЕЛЕФОН"}}).phone == "+79120001123"


def test_a_bad_phone_is_left_out_not_fatal():
    who = mapping.person(_sub("Phone=12345&Email=nope&tranid=t&formid=f"), {})
    assert (who.phone, who.email, who.dropped) == ("", "", ["phone", "email"])


def test_consent_checkboxes_default_and_configured():
    sub = _sub("Checkbox=yes&subscribe=on&agree_pd=yes&tranid=t&formid=f")
    assert mapping.consent_field(sub, "personal_data", {}) == "Checkbox"
    assert mapping.consent_field(sub, "marketing", {}) == "subscribe"
    assert mapping.consent_field(sub, "personal_data", {"consent_fields": {"personal_data": "AGREE_PD"}}) == "agree_pd"
    assert mapping.consent_field(_sub("Checkbox=&tranid=t&formid=f"), "personal_data", {}) is None


def test_form_text_lists_the_answers_without_system_fields_and_the_key():
    sub = _sub("Name=Анна&Comments=Хотим праздник&api_key=secret&tranid=t&formid=f&formname=Заявка&COOKIES=_ga=1")
    assert mapping.form_text(sub) == "Name: Анна\nComments: Хотим праздник"


def test_kind_follows_the_operators_setting_and_a_cart_wins():
    sub = _sub("Name=А&tranid=t&formid=form9")
    assert mapping.kind_of(sub, {}) == mapping.LEAD
    assert mapping.kind_of(sub, {"forms": {"form9": "callback"}}) == mapping.CALLBACK
    assert mapping.kind_of(_sub("payment[amount]=1&tranid=t&formid=form9"),
                           {"forms": {"form9": "callback"}}) == mapping.ORDER


def test_the_handshake_is_recognised():
    assert mapping.is_handshake(mapping.read_body(b"test=test", FORM))
    assert mapping.is_handshake(mapping.read_body(b"test=test&api_key=k", FORM))
    assert not mapping.is_handshake(mapping.read_body(b"test=test&tranid=1", FORM))


@pytest.mark.parametrize(("raw", "content_type", "reason"), [
    (b"Name=Anna&formid=f", FORM, "tranid"),
    (b"{not json", "application/json", "JSON"),
    (b"[1, 2]", "application/json", "объектом"),
    (b"\xff\xfe", FORM, "UTF-8"),
    (b"Name=%FF&tranid=1", FORM, "форма"),
    (b"Name=a%00b&tranid=1", FORM, "NUL"),
    (b'{"tranid": {"a": 1}}', "application/json", "tranid"),
    (b"tranid=1&payment={broken", FORM, "JSON"),
    (b"tranid=1&payment[products][0][name]=X", FORM, "цены"),
    (b"tranid=1&payment[products][0]=just text", FORM, "Название=сумма"),
    (b"tranid=1&payment[products][0][name]=X&payment[products][0][price]=-5", FORM, "пределов"),
    (b"tranid=1&payment[products][0][name]=X&payment[products][0][price]=1e20", FORM, "пределов"),
    (b"tranid=1&payment[products][0][name]=X&payment[products][0][price]=1&payment[products][0][quantity]=0",
     FORM, "количество"),
    (b"tranid=1&payment[orderid]=1", FORM, "ни товаров"),
    (b"", FORM, "Пустое"),
])
def test_garbage_is_refused_with_a_reason(raw, content_type, reason):
    with pytest.raises(ValidationError) as caught:
        _sub(raw, content_type)
    assert reason in " ".join(caught.value.messages)


def test_a_clash_of_flat_and_bracketed_keys_loses_nothing():
    data = mapping.unflatten({"a": "1", "a[b]": "2", "c[0]": "x", "c[1]": "y", "d[]": "z"})
    assert data == {"a": "1", "a[b]": "2", "c": ["x", "y"], "d": ["z"]}
