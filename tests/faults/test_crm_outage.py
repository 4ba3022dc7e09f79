"""A CRM answering 429 and 503 for minutes, its tokens expiring in the middle, then recovering:
in the end the CRM holds exactly what the hub queued — every contact and deal once, none lost.

A few hundred contacts and some deals are queued for amoCRM or Bitrix24 (OAuth app, so its
token can expire too). The emulator then answers 429 with ``Retry-After`` for two minutes and a
plain 503 for two and a half; half-way through the 503s every access token is revoked. The
outbox is drained on a 30-second tick while its clock (``timezone.now``) is moved on, so the
minutes pass without being waited for. Production's attempt budget applies; "slow down" (429)
must not spend it, the outage may, and no row may die of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
import requests
from django.utils import timezone

from connectors.base.emulator import RunningEmulator
from hub.models import Connection, Contact, ExternalRef, Outbox
from hub.services.catalog import product_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.outbox import outbox_drain
from hub.services.sales import LineData, purchase_record
from tests.connectors.conftest import amo, amo_emulator, b24, b24_emulator  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

CONTACTS, DEALS = 200, 15
TICK = 30  # seconds between two drains, as the beat runs them
SLOW_DOWN_UNTIL, DOWN_UNTIL, TOKENS_EXPIRE_AT = 120, 270, 180  # seconds into the outage


@dataclass
class Side:
    system: str
    connection: Connection
    emulator: RunningEmulator
    api: str  # the path prefix of their API (the token endpoint is not under it)

    @property
    def app(self) -> Any:
        return self.emulator.app

    def knob(self, **spec: Any) -> None:
        requests.post(f"{self.emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()

    def stored(self) -> tuple[int, int]:
        """(contacts, deals) the CRM holds."""
        deals = self.app.leads if self.system == "amocrm" else self.app.deals
        return len(self.app.contacts), len(deals)

    def live_tokens(self) -> tuple[set[str], set[str]]:
        """(access, refresh) tokens the CRM would accept now."""
        with self.app.lock:
            access = self.app.tokens if self.system == "amocrm" else self.app.access_tokens
            return set(access), set(self.app.refresh_tokens)


@pytest.fixture(params=["amocrm", "bitrix24"])
def side(request) -> Side:
    """Production's attempt budget; limits raised (pacing is not under test, outages are)."""
    if request.param == "amocrm":
        connection, emulator = request.getfixturevalue("amo"), request.getfixturevalue("amo_emulator")
        emulator.app.per_token_limit = emulator.app.account_limit = 10_000
        api = "/api/v4"
    else:  # an OAuth app (not an incoming-webhook URL): its access token expires
        connection, emulator = request.getfixturevalue("b24"), request.getfixturevalue("b24_emulator")
        emulator.app.burst, emulator.app.drain = 10_000, 10_000
        token, creds = emulator.app.issue_oauth_token(), emulator.app.state()["credentials"]
        connection.credentials = {"client_id": creds["client_id"], "client_secret": creds["client_secret"],
                                  "access_token": token["access_token"], "refresh_token": token["refresh_token"],
                                  "oauth_server": emulator.url, "application_token": creds["application_token"]}
        api = "/rest"
    connection.settings.pop("max_attempts")
    connection.settings["rate_limit"] = "500/second"
    connection.save()
    return Side(request.param, connection, emulator, api)


class Clock:
    """``timezone.now`` running on from a moved start: the outbox's due times, backoffs and
    Retry-After pass in a test's second."""

    def __init__(self) -> None:
        self.real, self.offset = timezone.now, dt.timedelta()

    def now(self) -> dt.datetime:
        return self.real() + self.offset

    def tick(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


def _queue() -> None:
    """What a venue's day sends to the CRM: contacts, some of them buying (a deal each)."""
    ticket = product_upsert(name="Билет в аквапарк", base_price="1500")
    for n in range(CONTACTS):
        contact, _ = contact_upsert(ContactData(first_name=f"Клиент{n}", last_name="Тестов",
                                                phones=[f"+7916{n:07d}"]))
        if n < DEALS:
            purchase_record(purchased_at=timezone.now(), contact=contact,
                            lines=[LineData(product=ticket, price=Decimal(1500))])


def _drain_due() -> None:
    while outbox_drain().total:
        pass


def _unsent() -> Any:
    return Outbox.objects.exclude(status__in=[Outbox.Status.SENT, Outbox.Status.SKIPPED])


def test_minutes_of_429_and_503_with_tokens_expiring_end_with_exact_counts(side, settings):
    # Production's numbers: with a 30 s tick, 2.5 min of 503 cost at most 5 of the 8 attempts.
    settings.HUB_OUTBOX_BATCH, settings.HUB_OUTBOX_MAX_ATTEMPTS, settings.HUB_OUTBOX_BACKOFF_BASE = 50, 8, 5
    _queue()
    rows = Outbox.objects.filter(connection=side.connection)
    queued = rows.count()
    assert rows.filter(action="contact.upsert").count() == CONTACTS and queued == CONTACTS + DEALS
    side.knob(faults=[{"status": 429, "retry_after": 30, "times": 10**6, "path_prefix": side.api}])
    clock = Clock()
    refreshed_from = None
    with mock.patch("django.utils.timezone.now", side_effect=clock.now):
        t = 0
        while t < DOWN_UNTIL:
            if t == SLOW_DOWN_UNTIL:
                # Two minutes of "slow down" cost no attempt and sent nothing.
                assert not rows.filter(status=Outbox.Status.SENT).exists()
                assert not rows.filter(attempts__gt=0).exists()
                side.knob(clear=True, faults=[{"status": 503, "times": 10**6, "path_prefix": side.api}])
            if t == TOKENS_EXPIRE_AT:
                refreshed_from = dict(Connection.objects.get(pk=side.connection.pk).credentials)
                side.knob(expire_tokens=True)
            _drain_due()
            clock.tick(TICK)
            t += TICK
        assert not rows.filter(status=Outbox.Status.SENT).exists()  # nothing got through the outage…
        assert not rows.filter(status=Outbox.Status.DEAD).exists()  # …and nothing died of it
        side.knob(clear=True)  # recovered
        for _ in range(60):  # the backoff of the last failures runs out within minutes
            _drain_due()
            if not _unsent().exists():
                break
            clock.tick(TICK)

    assert _unsent().count() == 0, list(_unsent().values_list("status", "attempts", "last_error")[:3])
    assert rows.filter(status=Outbox.Status.SENT).count() == queued
    assert max(rows.values_list("attempts", flat=True)) <= settings.HUB_OUTBOX_MAX_ATTEMPTS
    # Exactly what was queued, once each, and each hub row linked to its own CRM record.
    assert side.stored() == (CONTACTS, DEALS)
    refs = ExternalRef.objects.filter(connection=side.connection, kind="contact")
    assert refs.count() == Contact.objects.count() == CONTACTS
    assert {int(i) for i in refs.values_list("external_id", flat=True)} == set(side.app.contacts)
    # The tokens were renewed once revoked, and the pair stored is the one the CRM accepts now.
    stored = Connection.objects.get(pk=side.connection.pk).credentials
    access, refresh = side.live_tokens()
    assert stored["access_token"] in access and stored["refresh_token"] in refresh
    assert stored["access_token"] != refreshed_from["access_token"]
    assert stored["refresh_token"] != refreshed_from["refresh_token"]
    assert refreshed_from["refresh_token"] not in refresh  # single-use: spent by the renewal
