"""Hostile and odd bodies at the Tilda webhook (with the right key, so they get past the door):
the answer is 200 ``ok`` or a 4xx with a reason, never a 5xx, and processing whatever was
stored never crashes (no inbox row ends "failed")."""

from __future__ import annotations

import hashlib
import json
import urllib.parse

from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.models import Inbox
from hub.models.consent import ConsentText
from hub.services.connections import connection_upsert
from hub.services.consent import consent_text_publish
from hub.services.inbox import inbox_process
from tests.connectors.tilda.conftest import API_KEY, form_body

FORM = "application/x-www-form-urlencoded"
KEYS = st.sampled_from(["Name", "name", "Phone", "PHONE", "Email", "Checkbox", "Subscribe", "tranid", "formid",
                        "formname", "test", "payment", "payment[orderid]", "payment[amount]", "payment[bonuses]",
                        "payment[products][0][name]", "payment[products][0][price]", "payment[products][0][amount]",
                        "payment[products][0][quantity]", "payment[products][0][sku]", "payment[products][1]",
                        "payment[products][0][options][0][variant]", "payment[products]", "bonuses", "COOKIES",
                        "a[b][c]", "x[]", "[]", "tranid[0]", "payment[products][00][name]"]) | st.text(max_size=12)
TEXTS = st.sampled_from(["+79161234567", "8 916 123 45 67", "anna@example.com", "yes", "Билет=490",
                         "Билет - 2x245 = 490", "1e999", "NaN", "-1", "0", "0.0001", "1 490,50", "9999999999.99",
                         "{}", "[]", '{"products": ["A=1"]}', '{"orderid": "1", "amount": "5"}', "[\"x\"]", "1:2",
                         "form1", "test", "\u00a0"]) | st.text(max_size=30)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), TEXTS)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS | st.sampled_from(["name", "price", "quantity", "amount", "products",
                                                                "options", "orderid", "sku", "externalid"]),
                                        inner, max_size=4), max_leaves=10)
FORMS = st.dictionaries(KEYS, TEXTS, max_size=10)
JSONS = st.dictionaries(KEYS, VALUES, max_size=8)
GOOD_LINE = st.fixed_dictionaries({"name": st.sampled_from(["Билет", "Детский билет", " Кофе "]),
                                   "price": st.sampled_from(["490", "1 000,50", "0", 350])},
                                  optional={"quantity": st.sampled_from(["1", "2", "0.5", 3]),
                                            "sku": st.sampled_from(["A-1", "", "B-2"]),
                                            "externalid": st.sampled_from(["e1", "e2"]),
                                            "options": st.just([{"option": "Дата", "variant": "01.06"}])})
ODD_LINE = st.fixed_dictionaries({"name": TEXTS}, optional={"price": SCALARS, "amount": SCALARS,
                                                            "quantity": SCALARS, "sku": TEXTS, "options": VALUES})
LINE_TEXTS = st.sampled_from(["Билет=490", "Полотенце - 2x100 = 200"])
PRODUCTS = st.lists(st.one_of(GOOD_LINE, GOOD_LINE, GOOD_LINE, LINE_TEXTS, ODD_LINE, TEXTS), max_size=4)
CARTS = st.fixed_dictionaries({"products": PRODUCTS | PRODUCTS | st.builds(json.dumps, PRODUCTS)},
                              optional={"orderid": st.sampled_from(["1001", "1002", "1"]) | TEXTS,
                                        "amount": st.sampled_from(["1700", "", "0"]) | TEXTS,
                                        "bonuses": st.sampled_from(["", "10", "x", "0"]),
                                        "promocode": TEXTS, "discount": st.sampled_from(["100", ""])})
FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _tilda():
    if not ConsentText.objects.exists():
        consent_text_publish(purpose="personal_data", version="1", text="ПДн", operator_name="ООО")
        consent_text_publish(purpose="marketing", version="1", text="Рассылки", operator_name="ООО")
    connection, _ = connection_upsert(name="Tilda", system="tilda", credentials={"api_key": API_KEY},
                                      settings={"forms": {"form1": "callback"}})
    return connection


def _check(answer, inbox_before: int) -> None:
    assert answer.status_code < 500, answer.content
    if answer.status_code >= 400:
        assert answer.json()["error"].strip()  # a reason
    else:
        assert answer.content == b"ok"
    for row in Inbox.objects.filter(pk__gt=inbox_before, status=Inbox.Status.RECEIVED):
        processed = inbox_process(row.pk)
        assert processed.status != Inbox.Status.FAILED, processed.error


def _last() -> int:
    return Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@FUZZ
@given(fields=FORMS, with_tranid=st.booleans())
def test_random_forms_never_crash(db, fields, with_tranid):
    tilda, before = _tilda(), _last()
    pairs = [*fields.items(), ("api_key", API_KEY)]
    if with_tranid:
        pairs.append(("tranid", "fuzz:" + hashlib.sha256(repr(pairs).encode()).hexdigest()[:16]))
    _check(Client().post(tilda.webhook_path, urllib.parse.urlencode(pairs), content_type=FORM), before)


@FUZZ
@given(body=JSONS, tranid=st.one_of(st.none(), st.text(min_size=1, max_size=20), st.integers(), VALUES))
def test_random_json_never_crashes(db, body, tranid):
    tilda, before = _tilda(), _last()
    body = {**body, "api_key": API_KEY, **({"tranid": tranid} if tranid is not None else {})}
    _check(Client().post(tilda.webhook_path, json.dumps(body), content_type="application/json"), before)


@FUZZ
@given(raw=st.binary(max_size=200), content_type=st.sampled_from([FORM, "application/json", "text/plain", ""]))
def test_random_bytes_never_crash(db, raw, content_type):
    tilda, before = _tilda(), _last()
    _check(Client().post(tilda.webhook_path, raw, content_type=content_type, HTTP_API_KEY=API_KEY), before)


@FUZZ
@given(cart=CARTS, encoding=st.sampled_from(["json", "payment-json-string", "payment-flat"]),
       phone=st.sampled_from(["+79161234567", "", "12"]), form=st.sampled_from(["form1", "form2"]))
def test_random_carts_never_crash(db, cart, encoding, phone, form):
    tilda, before = _tilda(), _last()
    fields = {"Name": "Анна", "Phone": phone, "Checkbox": "yes", "formid": form,
              "tranid": "cart:" + hashlib.sha256(repr((cart, encoding, phone, form)).encode()).hexdigest()[:16]}
    body, content_type = form_body(fields, cart, encoding=encoding)
    _check(Client().post(tilda.webhook_path, body, content_type=content_type), before)
