"""What the cabinet shows a signed-in client: their card, points with expiry dates, children,
upcoming bookings, purchases with lines and the consents in force. One read for the page and
the API alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from bookings.models import Booking
from hub.models import ConsentRecord, Contact, ContactIdentity, ContactRelation, Purchase
from hub.services.contacts import contact_by_identity
from hub.services.normalize import phone_normalize
from loyalty.models import Entry
from loyalty.selectors import Balance, balance_for, history_for

HISTORY = 20
PURCHASES = 20
BOOKINGS = 20


@dataclass(frozen=True)
class Overview:
    contact: Contact
    balance: Balance
    history: list[Entry]
    children: list[ContactRelation]  # .child, .relation
    bookings: list[Booking]  # .halls: names of what is booked
    purchases: list[Purchase]  # .lines prefetched
    consents: list[ConsentRecord]  # the newest active one per purpose


def contact_by_phone(phone: str) -> Contact | None:
    """The client who signs in with this phone (E.164 or as typed): the owner of the phone
    identity, following merges; else a contact whose primary phone it is."""
    try:
        phone = phone_normalize(str(phone or "")[:64])
    except ValidationError:
        return None
    return contact_by_identity(ContactIdentity.Kind.PHONE, phone)


def active_consents(contact: Contact) -> list[ConsentRecord]:
    rows = (ConsentRecord.objects.filter(contact=contact, withdrawn_at__isnull=True)
            .order_by("purpose", "-granted_at", "-pk"))
    newest: dict[str, ConsentRecord] = {}
    for record in rows:
        newest.setdefault(record.purpose, record)
    return list(newest.values())


def cabinet_overview(contact: Contact, now: dt.datetime | None = None) -> Overview:
    now = now or timezone.now()
    children = list(ContactRelation.objects.filter(parent=contact, child__merged_into__isnull=True)
                    .select_related("child").order_by("child__birth_date", "child__first_name", "pk"))
    bookings = list(Booking.objects.filter(contact=contact, ends_at__gte=now,
                                           status__in=[Booking.Status.TENTATIVE, Booking.Status.CONFIRMED])
                    .prefetch_related("resources").order_by("starts_at", "pk")[:BOOKINGS])
    for booking in bookings:
        booking.halls = [r.name for r in booking.resources.all()]  # type: ignore[attr-defined]
    purchases = list(Purchase.objects.filter(contact=contact)
                     .prefetch_related("lines")
                     .order_by("-purchased_at", "-pk")[:PURCHASES])
    return Overview(contact=contact, balance=balance_for(contact, now=now), history=history_for(contact, HISTORY),
                    children=children, bookings=bookings, purchases=purchases, consents=active_consents(contact))
