"""Cabinet fixtures: a client with everything the cabinet shows (points with expiry dates, a
child, an upcoming booking, a purchase with lines, consents), the SMS.ru and Telegram
emulators on real ports with hub connections to them, and clean per-address sign-in limits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from bookings.models import Booking, Reservation, Resource
from cabinet.session import CONTACT_KEY
from hub.models import Contact, Purchase, PurchaseLine
from hub.models.consent import ConsentRecord, Purpose
from hub.services.consent import consent_grant
from loyalty.services.ledger import ledger_earn, ledger_redeem
from tests.channel_side import ChannelSide
from tests.channel_sides import channel_side
from tests.helpers import drain_outbox

PHONE = "+79161234567"
TYPED = "8 (916) 123-45-67"  # the same phone as a client types it
TELEGRAM_ID = "700100200"
ADDRESSES = ("127.0.0.1", "127.0.0.2")  # the test clients, the live server's browser; another address


@pytest.fixture(autouse=True)
def _address_limits_reset() -> Iterator[None]:
    """The per-address sign-in limits live in the shared cache (file or Redis) and would carry
    over between tests and runs: forget ours, and only ours."""
    keys = [f"throttle_{scope}_{ip}" for scope in ("cabinet_code", "cabinet_verify") for ip in ADDRESSES]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def sms(db: None) -> Iterator[ChannelSide]:
    """SMS.ru's emulator and the hub's (only) SMS connection to it."""
    with channel_side("smsru") as side:
        yield side


@pytest.fixture
def telegram(db: None) -> Iterator[ChannelSide]:
    with channel_side("telegram") as side:
        yield side


def last_code(side: ChannelSide, to: str = PHONE) -> str:
    """Send what is queued, then read the newest code the provider holds for ``to``."""
    drain_outbox()
    texts = [m["text"] for m in side.sent() if m["to"] == to]
    assert texts, f"nothing reached {to} through {side.system}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found, texts[-1]
    return found.group(1)


@dataclass
class Family:
    anna: Contact
    masha: Contact
    booking: Booking
    past_booking: Booking
    purchase: Purchase
    expires_at: dt.datetime


@pytest.fixture
def family(person: Callable[..., Contact]) -> Family:
    """Anna (signs in with PHONE) and her daughter Masha: 150 points earned (100 of them expire
    in 20 days), 30 spent; one booking ahead, one past; one purchase of two lines; consent to
    mailings (web form) and to personal-data processing."""
    now = timezone.now()
    anna = person("Анна", phone=PHONE, email="anna@example.com", birth_date=dt.date(1990, 5, 1))
    Contact.objects.filter(pk=anna.pk).update(last_name="Смирнова")
    anna.refresh_from_db()
    consent_grant(purpose=Purpose.PERSONAL_DATA, subject_kind="phone", subject_id=PHONE,
                  channel=ConsentRecord.Channel.CASHDESK, method=ConsentRecord.Method.SIGNATURE, contact=anna)
    masha = person("Маша", category=Contact.Category.CHILD, parent=anna, birth_date=dt.date(2018, 3, 8), email=None)
    expires_at = now + dt.timedelta(days=20)
    ledger_earn(anna, 100, reason="Покупка билетов", source="purchase", idempotency_key="t-earn-1",
                expires_at=expires_at)
    ledger_earn(anna, 50, reason="С днём рождения", source="birthday", idempotency_key="t-earn-2")
    ledger_redeem(anna, 30, reason="Оплата баллами", source="purchase", idempotency_key="t-redeem-1")
    hall = Resource.objects.create(kind=Resource.Kind.HALL, name="Зал «Джунгли»", capacity=20)
    booking = _booking(anna, hall, now + dt.timedelta(days=3), Booking.Status.CONFIRMED)
    past = _booking(anna, hall, now - dt.timedelta(days=3), Booking.Status.DONE)
    purchase = Purchase.objects.create(contact=anna, number="A-17", purchased_at=now - dt.timedelta(days=1),
                                       total=Decimal("1300.00"), sales_point="Касса 1")
    PurchaseLine.objects.create(purchase=purchase, product_name="Билет детский", quantity=2, price=500, amount=1000)
    PurchaseLine.objects.create(purchase=purchase, product_name="Аквагрим", quantity=1, price=300, amount=300)
    return Family(anna=anna, masha=masha, booking=booking, past_booking=past, purchase=purchase,
                  expires_at=expires_at)


def _booking(contact: Contact, hall: Resource, start: dt.datetime, status: str) -> Booking:
    booking = Booking.objects.create(contact=contact, starts_at=start, ends_at=start + dt.timedelta(hours=2),
                                     guests=12, status=status, total=Decimal("5000.00"))
    Reservation.objects.create(booking=booking, resource=hall, starts_at=booking.starts_at,
                               blocked_until=booking.ends_at, active=status != Booking.Status.DONE)
    return booking


def signed_in(client: Client, contact: Contact) -> Client:
    """A session with ``contact`` signed in, without a code (the sign-in itself is tested apart)."""
    session = client.session
    session[CONTACT_KEY] = contact.pk
    session.save()
    return client
