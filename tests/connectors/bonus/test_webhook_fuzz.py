"""Random deliveries at the bonus programs' webhooks (SamoSale signed with HMAC, MAXMA with
Basic auth), past the door: 200 or a 4xx with a reason (kept as rejected), never a 5xx; each
stored event is then processed against the program's emulator (history and balance read,
mirrored into the ledger) and none crashes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.base.webhooks import hmac_sha256
from connectors.maxma import mapping as maxma_mapping
from hub.models import Inbox
from hub.services.inbox import inbox_process
from tests.bonus_programs import bonus_side
from tests.bonus_side import BonusSide
from tests.helpers import assert_webhook_answer_kept

FUZZ = settings(max_examples=50, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PHONES = ["+79161234567", "+79160000001"]

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.floats(allow_nan=False,
                                                                                       allow_infinity=False),
                    st.text(max_size=20), st.sampled_from(["<script>alert(1)</script>", "0", "", " "]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
PHONE_TEXTS = st.sampled_from([*PHONES, "+79990000000", "89161234567", "12", "", "phone"]) | st.text(max_size=15)


@st.composite
def samosale_bodies(draw: st.DrawFn, client_ids: list[str]) -> dict:
    """Mostly well-formed deliveries (so processing is reached), with odd values mixed in."""
    known = st.sampled_from(client_ids)
    body = draw(st.fixed_dictionaries({
        "event_id": st.uuids().map(str) | st.uuids().map(str) | st.integers(0, 10**12) | VALUES,
        "event": st.sampled_from(["balance.changed", "balance.changed", "client.created", ""]) | VALUES,
        "client_id": known | known | known | st.integers(-5, 10**6) | st.text(max_size=10) | VALUES,
        "phone": st.sampled_from(PHONES) | st.sampled_from(PHONES) | PHONE_TEXTS | VALUES,
    }, optional={"operation_id": st.text(max_size=10) | VALUES}))
    return {**body, **draw(st.dictionaries(st.text(max_size=8), VALUES, max_size=2))}


EVENT_NAMES = st.sampled_from(sorted(maxma_mapping.CLIENT_EVENTS)) | st.sampled_from(["EVENT_GIFT_CARD_ACTIVATED", ""])


@st.composite
def maxma_events(draw: st.DrawFn) -> dict:
    """Mostly well-formed events (so processing is reached), with odd values mixed in."""
    name = draw(EVENT_NAMES | EVENT_NAMES | VALUES)
    phone = st.sampled_from(PHONES) | st.sampled_from(PHONES) | PHONE_TEXTS | VALUES
    client = st.fixed_dictionaries({"phoneNumber": phone}, optional={"bonuses": VALUES, "name": SCALARS})
    event = {"event": name, "eventId": draw(st.uuids().map(str) | st.integers(-1, 10**9) | VALUES),
             "eventTime": draw(st.sampled_from(["2026-01-01T00:00:00Z", "yesterday"]) | VALUES)}
    if isinstance(name, str):
        event[name] = draw(st.fixed_dictionaries({"clientData": client}, optional={"client": client | VALUES})
                           | VALUES)
    return event


@pytest.fixture
def samosale(db: None) -> Iterator[BonusSide]:
    with bonus_side("samosale") as side:
        yield side


@pytest.fixture
def maxma(db: None) -> Iterator[BonusSide]:
    with bonus_side("maxma") as side:
        yield side


def _check(answer, side: BonusSide, before: int) -> None:  # type: ignore[no-untyped-def]
    assert_webhook_answer_kept(answer, side.connection, before)
    for row in Inbox.objects.filter(pk__gt=before, status=Inbox.Status.RECEIVED):
        processed = inbox_process(row.pk)
        assert processed.status in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED), processed.error
        assert processed.status == Inbox.Status.PROCESSED or processed.error.strip()


def _last() -> int:
    return Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _reached_processing(side: BonusSide) -> None:
    rows = Inbox.objects.filter(connection=side.connection)
    assert rows.filter(status=Inbox.Status.PROCESSED).exists() and rows.filter(status=Inbox.Status.REJECTED).exists()


def test_random_samosale_webhooks_never_crash(samosale):
    client_ids = [samosale.join(phone, 10) for phone in PHONES]
    secret = samosale.connection.credentials["webhook_secret"]

    @FUZZ
    @given(body=samosale_bodies(client_ids) | VALUES)
    @example(body={"event_id": "ex-1", "event": "balance.changed", "client_id": client_ids[0], "phone": PHONES[0]})
    @example(body={"event_id": "ex-2", "event": "balance.changed", "client_id": ["x"]})
    def run(body: object) -> None:
        before, raw = _last(), json.dumps(body).encode()
        answer = Client().post(samosale.connection.webhook_path, raw, content_type="application/json",
                               headers={"X-Samosale-Signature": hmac_sha256(secret, raw)})
        _check(answer, samosale, before)

    run()
    _reached_processing(samosale)


def test_random_maxma_webhooks_never_crash(maxma):
    for phone in PHONES:
        maxma.join(phone, 10)
    creds = maxma.connection.credentials
    basic = "Basic " + base64.b64encode(f"{creds['webhook_user']}:{creds['webhook_password']}".encode()).decode()

    @FUZZ
    @given(body=st.lists(maxma_events(), min_size=1, max_size=3) | VALUES)
    @example(body=[{"event": "EVENT_CLIENT_BONUSES_CHANGED", "eventId": "ex-1",
                    "EVENT_CLIENT_BONUSES_CHANGED": {"clientData": {"phoneNumber": PHONES[0]}}}])
    @example(body=[{"event": ["EVENT_CLIENT_NEW"], "eventId": "ex-2"}, {"event": "EVENT_CLIENT_NEW"}])
    def run(body: object) -> None:
        before = _last()
        answer = Client().post(maxma.connection.webhook_path, json.dumps(body), content_type="application/json",
                               headers={"Authorization": basic})
        _check(answer, maxma, before)

    run()
    _reached_processing(maxma)
