"""What the bot's menu shows a registered client: bonus balance with recent history, upcoming
bookings — as template context, dates in the venue's time zone."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from bookings.models import Booking
from hub.models import Connection, Contact
from loyalty.selectors import balance_for, history_for
from mailings.services.texts import number_text

HISTORY = 5
BOOKINGS = 5


def balance_context(contact: Contact, connection: Connection) -> dict[str, Any]:
    zone = ZoneInfo(connection.time_zone)
    balance = balance_for(contact)
    history = []
    for entry in history_for(contact, HISTORY):
        credit = entry.points > 0
        history.append({"date": f"{timezone.localtime(entry.created_at, zone):%d.%m}",
                        "sign": "+" if credit else "−", "points": number_text(abs(entry.points)),
                        "reason": entry.reason,
                        "expires": f"{timezone.localtime(entry.expires_at, zone):%d.%m.%Y}"
                        if credit and entry.expires_at else ""})
    return {"points": balance.total, "expiring": number_text(balance.expiring_30_days)
            if balance.expiring_30_days else "", "history": history}


def bookings_context(contact: Contact, connection: Connection) -> dict[str, Any]:
    zone = ZoneInfo(connection.time_zone)
    upcoming = (Booking.objects.filter(contact=contact, starts_at__gte=timezone.now(),
                                       status__in=[Booking.Status.TENTATIVE, Booking.Status.CONFIRMED])
                .prefetch_related("resources").order_by("starts_at")[:BOOKINGS])
    return {"bookings": [{"when": f"{timezone.localtime(b.starts_at, zone):%d.%m.%Y %H:%M}",
                          "what": ", ".join(r.name for r in b.resources.all()) or "бронирование",
                          "status": b.get_status_display()} for b in upcoming]}
