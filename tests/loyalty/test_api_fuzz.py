"""Fuzzing the loyalty API (what tills and sites call) from its own OpenAPI schema
(schemathesis over WSGI, in-process): data that fits the schema and data that does not, with
no key, a wrong key and a till's key; no answer is ever a 5xx, and every refusal says why."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from hub.models import Card, Contact, Product, ProductCategory
from loyalty.models import Account, Receipt
from loyalty.services.api_keys import api_key_create
from loyalty.services.ledger import ledger_earn, program_default

EXAMPLES = 150  # per key kind: a few seconds in all


@pytest.fixture
def schema(db: None):  # type: ignore[no-untyped-def]
    """The schema as served, and the app to call. As in Django's test client, a request must
    not close the test's database connection (it holds the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/loyalty/schema/", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def till(db: None) -> str:
    """A till's key, a client with a card and points, a product: so some calls succeed."""
    program = program_default()
    program.earn_percent, program.max_redeem_share = Decimal(5), Decimal(50)
    program.save()
    _, secret = api_key_create("Касса fuzz", program)
    anna = Contact.objects.create(first_name="<script>alert(1)</script>", phone="+79990000001")
    Card.objects.create(code="C-001", contact=anna)
    ledger_earn(anna, 400, reason="старт", source="manual", idempotency_key="fuzz-start")
    Product.objects.create(name="Билет", sku="T-1", category=ProductCategory.objects.create(name="Билеты"))
    return secret


def _fuzz(schema, authorization: str) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Run the examples with this Authorization header; answers counted by status."""
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    statuses: dict[int, int] = {}

    @given(case=strategy)
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers={"Authorization": authorization} if authorization else None)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=[not_a_server_error])
        if response.status_code >= 400:
            detail = response.json().get("detail")
            assert isinstance(detail, str) and detail.strip(), response.text[:300]

    run()
    return statuses


def test_no_request_from_the_schema_makes_a_server_error(schema, till):
    started = time.monotonic()
    anonymous = _fuzz(schema, "")
    wrong = _fuzz(schema, "Bearer deadbeef.wrong")
    with_key = _fuzz(schema, f"Bearer {till}")
    assert set(anonymous) == {401} and set(wrong) == {401}
    assert sum(with_key.values()) >= 100 and any(400 <= code < 500 and code != 401 for code in with_key), with_key
    assert Receipt.objects.count() < 10**4  # and nothing runaway
    assert time.monotonic() - started < 60


NUMBERS = st.one_of(*(st.decimals(min_value=-10**6, max_value=10**13, allow_nan=False, allow_infinity=False,
                                  places=places).map(str) for places in (0, 2, 3, 5)),
                    st.sampled_from(["0", "0.001", "1e3", "1E+30", "-0", "NaN", "Infinity", "", " 5 ", "1,5",
                                     "9" * 40]),
                    st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False), st.none())
TEXTS = st.sampled_from(["", " ", "<script>alert(1)</script>", "a\x00b", "x" * 200]) | st.text(max_size=20)


@st.composite
def receipts(draw: st.DrawFn, contact_id: int) -> dict:
    """Mostly receipts of the known client and product (so the engine runs), with odd numbers."""
    client = draw(st.sampled_from([{"card": "C-001"}, {"phone": "8 999 000-00-01"}, {"id": contact_id}])
                  | st.fixed_dictionaries({}, optional={"card": TEXTS, "phone": TEXTS, "id": NUMBERS}))
    line = st.fixed_dictionaries({"sku": st.just("T-1") | TEXTS, "amount": st.just("1000") | NUMBERS},
                                 optional={"quantity": NUMBERS, "product": NUMBERS})
    body = {"client": client, "lines": draw(st.lists(line, min_size=1, max_size=3)),
            "order": draw(st.uuids().map(str) | TEXTS)}
    body.update(draw(st.fixed_dictionaries({}, optional={
        "points": NUMBERS, "promo_codes": st.lists(TEXTS, max_size=3), "certificates": st.lists(TEXTS, max_size=3),
        "at": st.sampled_from(["2026-01-01T10:00:00Z", "2026-02-30", "yesterday", ""]) | TEXTS})))
    return body


def test_random_receipts_through_calculate_confirm_refund_never_crash(till):
    anna = Contact.objects.get(phone="+79990000001")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {till}"}
    statuses: set[int] = set()

    @given(body=receipts(anna.pk))
    @example(body={"client": {"card": "C-001"}, "lines": [{"sku": "T-1", "amount": "1000"}], "order": "ex-1"})
    @hypothesis_settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(body: dict) -> None:
        for path, data in (("calculate", body), ("confirm", body), ("refund", {"order": body["order"]})):
            answer = Client().post(f"/api/loyalty/{path}/", json.dumps(data), content_type="application/json",
                                   **headers)
            statuses.add(answer.status_code)
            assert answer.status_code < 500, (path, answer.content[:300])
            if answer.status_code >= 400:
                assert answer.json()["detail"].strip()
        assert Account.objects.get(contact=anna).balance >= 0

    run()
    assert {200, 201} <= statuses and any(400 <= code < 500 for code in statuses), statuses
