"""Bookings asked for from a CRM: a manager moves a deal to the stage the operator named
("booking requested") with hall, date and time filled in; the hub books tentatively and
answers in the deal — the booking, or why not with free times and halls."""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from bookings.models import Booking, Resource
from bookings.services.bookings import BookingConflict, BookingData, booking_save
from hub.models import Connection, Contact
from hub.services.deals import CrmDealView, crm_deal_note, deal_trigger_field, deal_triggered
from hub.services.external_refs import external_ref_find, external_ref_link
from hub.services.normalize import date_parse

log = logging.getLogger(__name__)

DEFAULT_HOURS = Decimal(2)
_TIME = re.compile(r"^\s*(\d{1,2})[:.](\d{2})")


def _field(connection: Connection, deal: CrmDealView, role: str) -> str:
    return deal_trigger_field(connection, deal, "booking", role)


def _when(connection: Connection, deal: CrmDealView) -> tuple[dt.datetime, dt.datetime]:
    day = date_parse(_field(connection, deal, "date"), field="date")
    if day is None:
        raise ValidationError("в сделке не заполнена дата брони")
    match = _TIME.match(_field(connection, deal, "time"))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValidationError("в сделке не заполнено или неверно время брони (нужно ЧЧ:ММ)")
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(int(match[1]), int(match[2]))))
    raw_hours = _field(connection, deal, "hours").replace(",", ".")
    try:
        hours = Decimal(raw_hours) if raw_hours else DEFAULT_HOURS
    except InvalidOperation as exc:
        raise ValidationError(f"длительность брони не число: {raw_hours!r}") from exc
    if not hours.is_finite():
        raise ValidationError(f"длительность брони не число: {raw_hours!r}")
    if not 0 < hours <= 24:
        raise ValidationError("длительность брони должна быть от 0 до 24 часов")
    return start, start + dt.timedelta(minutes=int(hours * 60))


def booking_from_crm_deal(connection: Connection, deal: CrmDealView) -> Booking | None:
    """Book (or move the booking of) a deal that reached the "booking requested" stage; the
    answer goes into the deal as a note. Input problems are answered, never raised."""
    if not deal_triggered(connection, deal, "booking"):
        return None
    ref = external_ref_find(connection, "booking", deal.id)
    existing = Booking.objects.filter(pk=ref.local_id).first() if ref else None
    try:
        hall_name = _field(connection, deal, "hall")
        halls = list(Resource.objects.filter(kind=Resource.Kind.HALL))
        # Compared in Python: SQLite's case-insensitive match knows only Latin letters.
        hall = next((h for h in halls if h.name.casefold() == hall_name.casefold()), None)
        if hall is None:
            known = ", ".join(h.name for h in halls if h.active)
            raise ValidationError(f"зал «{hall_name}» не найден" + (f" (есть: {known})" if known else ""))
        contact_ref = external_ref_find(connection, "contact", deal.contact_id) if deal.contact_id else None
        contact = Contact.objects.filter(pk=contact_ref.local_id).first() if contact_ref else None
        if contact is None:
            raise ValidationError("у сделки нет контакта, известного хабу")
        start, end = _when(connection, deal)
        data = BookingData(contact=contact, starts_at=start, ends_at=end, resources=[hall],
                           comment=f"Из CRM, сделка {deal.id}")
        if existing is not None:  # asked again: only the time and the hall move, the rest stays
            data.contact, data.comment, data.guests = existing.contact, existing.comment, existing.guests
            data.children, data.lines = list(existing.children.all()), None
            data.resources = [hall, *existing.resources.exclude(kind=Resource.Kind.HALL)]
            if existing.status != Booking.Status.CANCELLED:
                data.status = existing.status
        booking = booking_save(data, booking=existing, origin=connection)
    except BookingConflict as conflict:
        crm_deal_note(connection, deal.id, f"Хаб: бронь не создана. {conflict.message}")
        return None
    except ValidationError as exc:
        crm_deal_note(connection, deal.id, "Хаб: бронь не создана: " + "; ".join(_messages(exc)) + ".")
        return None
    external_ref_link(connection, "booking", booking.pk, deal.id)
    start, end = timezone.localtime(booking.starts_at), timezone.localtime(booking.ends_at)
    crm_deal_note(connection, deal.id, f"Хаб: бронь №{booking.pk} {'перенесена' if existing else 'создана'} "
                                       f"(предварительная): «{hall}», {start:%d.%m.%Y %H:%M}–{end:%H:%M}.")
    log.info("booking %s from CRM deal %s on connection %s", booking.pk, deal.id, connection.pk)
    return booking


def _messages(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


def on_deal_moved(sender: Any, connection: Connection, deal: CrmDealView, previous: tuple[str, str],
                  **kwargs: Any) -> None:
    booking_from_crm_deal(connection, deal)
