"""The site's order webhook at the hub: signed and fresh or refused (403, nothing stored as
an order), unreadable → 400 with the reason and the body kept, the same event twice is one
sale; and hostile bodies never crash anything (no 5xx, no failed inbox row)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.site import mapping
from events.models import TicketSale
from hub.models import Inbox
from hub.services.connections import connection_upsert
from hub.services.inbox import inbox_process
from tests.connectors.site.samples import ORDER

SECRET = "site-secret"



def _site():
    connection, _ = connection_upsert(name="Сайт", system="site", base_url="http://127.0.0.1:9",
                                      credentials={"secret": SECRET})
    return connection


def _post(site, body: Any, *, secret: str = SECRET, skew: int = 0, raw: bytes | None = None,
          content_type: str = "application/json"):
    data = raw if raw is not None else json.dumps(body).encode()
    stamp = int(time.time()) + skew
    return Client().post(site.webhook_path, data, content_type=content_type,
                         headers={mapping.TIMESTAMP_HEADER: str(stamp),
                                  mapping.SIGNATURE_HEADER: mapping.sign(secret, stamp, data)})


@pytest.fixture
def processed(django_capture_on_commit_callbacks):
    def post(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return _post(*args, **kwargs)
    return post


def test_a_signed_order_is_stored_answered_and_recorded_once(db, processed):
    site = _site()
    first = processed(site, ORDER)
    again = processed(site, ORDER)
    assert first.status_code == again.status_code == 200 and first.json() == {"ok": True}
    assert Inbox.objects.filter(connection=site).count() == 1
    sale = TicketSale.objects.get()
    assert sale.order_id == "1001" and sale.site_event_id == "42" and sale.tickets == 2
    refund = {**ORDER, "id": "ev-2", "type": "order.refunded",
              "order": {**ORDER["order"], "refunded_at": "2026-12-02T10:00:00+03:00"}}
    processed(site, refund)
    sale.refresh_from_db()
    assert sale.status == TicketSale.Status.REFUNDED and TicketSale.objects.count() == 1


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"secret": "wrong"}, "signature"),
    ({"skew": -3600}, "timestamp"),
])
def test_a_forged_or_stale_order_is_refused(db, kwargs, reason):
    site = _site()
    answer = _post(site, ORDER, **kwargs)
    assert answer.status_code == 403 and reason in answer.json()["error"].lower()
    assert not TicketSale.objects.exists()
    assert not Inbox.objects.exclude(status=Inbox.Status.REJECTED).exists()


def test_an_unsigned_order_is_refused(db):
    site = _site()
    answer = Client().post(site.webhook_path, json.dumps(ORDER), content_type="application/json")
    assert answer.status_code == 403 and answer.json()["error"]


@pytest.mark.parametrize("body", [
    {**ORDER, "type": "order.lost"},
    {**ORDER, "order": {**ORDER["order"], "tickets": []}},
    {**ORDER, "order": {**ORDER["order"], "event_id": ""}},
    [ORDER],
])
def test_an_unreadable_order_gets_a_reason_and_is_kept(db, body):
    site = _site()
    answer = _post(site, body)
    assert answer.status_code == 400 and answer.json()["error"].strip()
    rejected = Inbox.objects.get(connection=site)
    assert rejected.status == Inbox.Status.REJECTED and "1001" in rejected.raw_body  # the body is kept


# ------------------------------------------------------------------------------------ fuzz
TEXTS = st.sampled_from(["", "1", "55", "+79160000001", "anna@example.ru", "NaN", "-1", "1e999", "2026-12-01",
                         "2026-12-01T10:00:00+03:00", "2026-12-01T10:00:00", "<script>", "' OR 1=1 --"]) | st.text(
    max_size=20)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), TEXTS)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=3),
                      max_leaves=8)
TICKET = st.fixed_dictionaries({}, optional={"product_id": VALUES, "name": VALUES, "price": VALUES,
                                             "quantity": VALUES})
ORDERS = st.fixed_dictionaries({}, optional={
    "id": VALUES, "event_id": VALUES, "created_at": VALUES, "refunded_at": VALUES, "amount": VALUES,
    "buyer": st.fixed_dictionaries({}, optional={"name": VALUES, "last_name": VALUES, "phone": VALUES,
                                                 "email": VALUES}) | VALUES,
    "tickets": st.lists(TICKET, max_size=3) | VALUES})
BODIES = st.fixed_dictionaries({}, optional={"id": VALUES, "type": st.sampled_from(mapping.TYPES) | VALUES,
                                             "order": ORDERS | VALUES})
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _check(answer, before: int) -> None:
    assert answer.status_code < 500, answer.content
    if answer.status_code >= 400:
        assert answer.json()["error"].strip()
    for row in Inbox.objects.filter(pk__gt=before, status=Inbox.Status.RECEIVED):
        assert inbox_process(row.pk).status != Inbox.Status.FAILED


def _last() -> int:
    return Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@FUZZ
@given(body=BODIES)
def test_random_orders_never_crash(db, body):
    site, before = _site(), _last()
    _check(_post(site, body), before)


@FUZZ
@given(raw=st.binary(max_size=200), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_random_bytes_never_crash(db, raw, content_type):
    site, before = _site(), _last()
    _check(_post(site, None, raw=raw, content_type=content_type), before)
