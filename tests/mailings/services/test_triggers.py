"""Event notifications: points accrued (also by a set-based mass accrual, which sends no
signals) and bookings confirmed are found by the minute scan and notified once; a new points
trigger does not notify about points granted before it existed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from bookings.models import Booking
from hub.segments import ContactFilter
from loyalty.models import Entry
from loyalty.services.campaigns import mass_accrue
from loyalty.services.ledger import ledger_earn
from mailings.models import Campaign, Message
from mailings.services.triggers import triggers_scan
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db


def test_points_accrued_are_notified_once_each_and_old_points_are_not(person, campaign, email_channel):
    anna = person("Анна")
    ledger_earn(anna, 50, reason="до запуска", source=Entry.Source.MANUAL, idempotency_key="old")
    campaign(Campaign.Kind.TRIGGER, "{{ first_name }}, +{{ bonus_points|plural:\"балл,балла,баллов\" }}. "
             "Всего {{ bonus_balance|plural:\"балл,балла,баллов\" }}", trigger="bonus_accrued", marketing=False)
    ledger_earn(anna, 21, reason="за отзыв", source=Entry.Source.MANUAL, idempotency_key="new")
    mass_accrue(ContactFilter(), 3, campaign="акция", reason="акция")
    started = Campaign.objects.get().cursor
    assert triggers_scan() == 2
    assert triggers_scan() == 0
    assert Campaign.objects.get().cursor == started  # fresh entries are read again until settled…
    assert triggers_scan(timezone.now() + dt.timedelta(minutes=11)) == 0
    assert Campaign.objects.get().cursor == Entry.objects.order_by("pk").last().pk  # …then passed
    drain_outbox()
    assert sorted(m.body for m in mail.outbox) == ["Анна, +21 балл. Всего 74 балла", "Анна, +3 балла. Всего 74 балла"]


def test_a_confirmed_booking_is_notified_once_with_its_local_date(person, campaign, email_channel):
    anna = person("Анна")
    campaign(Campaign.Kind.TRIGGER, "Бронь на {{ booking_date }} подтверждена", trigger="booking_confirmed",
             marketing=False)
    starts = timezone.now().replace(microsecond=0) + dt.timedelta(days=3)
    booking = Booking.objects.create(contact=anna, starts_at=starts, ends_at=starts + dt.timedelta(hours=2),
                                     status=Booking.Status.TENTATIVE, total=Decimal(0))
    assert triggers_scan() == 0
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CONFIRMED, updated_at=timezone.now())
    assert triggers_scan() == 1
    assert triggers_scan() == 0
    local = timezone.localtime(starts, dt.timezone(dt.timedelta(hours=3)))
    assert Message.objects.get().text == f"Бронь на {local:%d.%m.%Y %H:%M} подтверждена"
