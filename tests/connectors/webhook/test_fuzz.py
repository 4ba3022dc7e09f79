"""Random signed events at the generic HTTP webhook: 200 or a 4xx with a reason (kept as
rejected), never a 5xx; each stored event is processed (a contact upserted, or refused with
the reason) and none crashes."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.base.webhooks import hmac_sha256
from hub.models import Contact, Inbox, Outbox
from hub.services.connections import connection_upsert
from hub.services.inbox import inbox_process
from tests.helpers import assert_webhook_answer_kept

pytestmark = pytest.mark.django_db

FUZZ = settings(max_examples=80, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECRET = "fuzz-secret"

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False,
                                                                                       allow_infinity=False),
                    st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
NAMES = st.sampled_from(["Анна", "<script>alert(1)</script>", "'; DROP TABLE hub_contact; --", "{{7*7}}",
                         "\u202eанна", " ", "x" * 300]) | st.text(max_size=30)
PHONES = st.sampled_from(["+79161234567", "89161234568", "12", "", "+1 202 555 0100"]) | st.text(max_size=15)
EMAILS = st.sampled_from(["anna@example.com", "ANNA@Example.com", "not-an-email", "", "a@b"]) | st.text(max_size=20)
DATES = (st.sampled_from(["2015-06-01", "2015-02-30", "01.06.2015", "", "9999-12-31", "0001-01-01"])
         | st.text(max_size=12))
CONTACTS = st.fixed_dictionaries({}, optional={
    "id": st.sampled_from(["c1", "c2"]) | st.text(max_size=10) | VALUES, "first_name": NAMES | VALUES,
    "last_name": NAMES | VALUES, "phone": PHONES | PHONES | VALUES, "email": EMAILS | VALUES,
    "birth_date": DATES | VALUES})
EVENTS = st.fixed_dictionaries(
    {"id": st.uuids().map(str) | st.integers(1, 10**9) | VALUES,
     "type": st.sampled_from(["contact.upsert", "contact.upsert", "contact.merged", "order.created"]) | VALUES},
    optional={"data": CONTACTS | CONTACTS | VALUES, "occurred_at": VALUES})


def test_random_signed_events_never_crash():
    connection, _ = connection_upsert(name="Generic fuzz", system="webhook", base_url="http://127.0.0.1:9",
                                      credentials={"token": "t", "secret": SECRET})

    @FUZZ
    @given(body=EVENTS | VALUES)
    @example(body={"id": "ex-1", "type": "contact.upsert", "data": {"id": "c9", "first_name": "Анна",
                                                                    "phone": "+79161234567"}})
    @example(body={"id": "ex-2", "type": "contact.upsert", "data": {"phone": "12", "birth_date": "2015-02-30"}})
    def run(body: object) -> None:
        before = Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        raw = json.dumps(body).encode()
        answer = Client().post(connection.webhook_path, raw, content_type="application/json",
                               headers={"X-Hub-Signature": hmac_sha256(SECRET, raw)})
        assert_webhook_answer_kept(answer, connection, before)
        for row in Inbox.objects.filter(pk__gt=before, status=Inbox.Status.RECEIVED):
            written = Contact.objects.count(), Outbox.objects.count()
            processed = inbox_process(row.pk)
            assert processed.status in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED), processed.error
            if processed.status == Inbox.Status.REJECTED:  # with the reason, and nothing half-written
                assert processed.error.strip() and (Contact.objects.count(), Outbox.objects.count()) == written

    run()
    rows = Inbox.objects.filter(connection=connection)
    assert rows.filter(status=Inbox.Status.PROCESSED, kind="contact.upsert").exists()
    assert rows.filter(status=Inbox.Status.REJECTED).exists()
