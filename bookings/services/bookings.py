"""Bookings of halls and staff. Never two active bookings on one resource at overlapping
times, buffer included: checked under locks on the resource rows on every database
(PostgreSQL row locks; SQLite's IMMEDIATE transactions serialise writers), and on
PostgreSQL also refused by an exclusion constraint. A clash names the booking in the way
and offers free times and free halls."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking, BookingLine, Preorder, Reservation, Resource
from bookings.services.preorders import PreorderLineData, preorder_cancel, preorder_upsert
from hub.models import Connection, Contact, Product
from hub.services.money import money
from hub.services.outbox import outbox_publish

HOLDING = (Booking.Status.TENTATIVE, Booking.Status.CONFIRMED, Booking.Status.DONE)
SLOT_STEP = dt.timedelta(minutes=30)
MAX_SUGGESTIONS = 6


@dataclass
class BookingLineData:
    product: Product
    quantity: Decimal = Decimal("1")
    price: Decimal | None = None  # None: the product's base price


@dataclass
class BookingData:
    contact: Contact
    starts_at: dt.datetime
    ends_at: dt.datetime
    resources: list[Resource | int]
    children: list[Contact] = field(default_factory=list)
    guests: int = 0  # 0: the client and the children attending
    lines: list[BookingLineData] | None = field(default_factory=list)  # None: keep the booking's own
    status: str = Booking.Status.TENTATIVE
    comment: str = ""


@dataclass(frozen=True)
class Clash:
    resource: Resource
    booking_id: int
    starts_at: dt.datetime
    blocked_until: dt.datetime


class BookingConflict(ValidationError):
    """The time is taken. ``clashes`` name the bookings in the way; ``free_starts`` are start
    times that day when every requested resource is free; ``free_halls`` are other halls free
    for the requested time."""

    def __init__(self, clashes: list[Clash], free_starts: list[dt.datetime], free_halls: list[Resource]) -> None:
        self.clashes, self.free_starts, self.free_halls = clashes, free_starts, free_halls
        parts = [f"«{c.resource}» занят: бронь №{c.booking_id}, {_span(c.starts_at, c.blocked_until)}"
                 f"{' (с учётом перерыва после брони)' if c.resource.buffer_minutes else ''}." for c in clashes]
        parts.append("Свободное время в этот день: " + (", ".join(f"{_local(t):%H:%M}" for t in free_starts)
                                                       if free_starts else "нет") + ".")
        if free_halls:
            parts.append("Свободные залы на это время: " + ", ".join(f"«{h}»" for h in free_halls) + ".")
        super().__init__(" ".join(parts), code="booking_conflict")


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value)


def _span(start: dt.datetime, end: dt.datetime) -> str:
    start, end = _local(start), _local(end)
    return f"{start:%d.%m.%Y %H:%M}–{end:%H:%M}" + ("" if start.date() == end.date() else f" ({end:%d.%m})")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if timezone.is_aware(value) else timezone.make_aware(value)


# ---------------------------------------------------------------------- validation
def _resolve(data: BookingData) -> list[Resource]:
    ids = [r.pk if isinstance(r, Resource) else int(r) for r in data.resources]
    if not ids:
        raise ValidationError({"resources": "Выберите хотя бы один зал или сотрудника."})
    found = {r.pk: r for r in Resource.objects.filter(pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ValidationError({"resources": f"Нет такого зала или сотрудника: #{', #'.join(missing)}."})
    inactive = [str(found[i]) for i in ids if not found[i].active]
    if inactive:
        raise ValidationError({"resources": f"Не принимает брони: {', '.join(inactive)}."})
    return [found[i] for i in dict.fromkeys(ids)]


def _guests(data: BookingData) -> int:
    return data.guests or 1 + len(data.children)


def _validate(data: BookingData) -> list[Resource]:
    data.starts_at, data.ends_at = _aware(data.starts_at), _aware(data.ends_at)
    if data.ends_at <= data.starts_at:
        raise ValidationError({"ends_at": "Окончание брони должно быть позже начала."})
    if data.status not in Booking.Status.values:
        raise ValidationError({"status": f"Неизвестный статус {data.status!r}."})
    resources = _resolve(data)
    for hall in resources:
        if hall.capacity is not None and _guests(data) > hall.capacity:
            raise ValidationError({"guests": f"В «{hall}» помещается до {hall.capacity} гостей, "
                                             f"а в брони {_guests(data)}."})
        if not _within_hours(hall, data.starts_at, data.ends_at):
            raise ValidationError({"starts_at": f"«{hall}» работает с {hall.opens_at:%H:%M} до "
                                                f"{hall.closes_at:%H:%M}: бронь не помещается в эти часы."})
    for line in data.lines or []:
        if line.quantity <= 0:
            raise ValidationError({"lines": f"Количество «{line.product}» должно быть больше нуля."})
    return resources


def _working_period(resource: Resource, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The resource's open period that starts on ``day`` (local); it may end after midnight."""
    if resource.opens_at is None or resource.closes_at is None:
        start = timezone.make_aware(dt.datetime.combine(day, dt.time()))
        return start, start + dt.timedelta(days=1)
    start = timezone.make_aware(dt.datetime.combine(day, resource.opens_at))
    end_day = day if resource.closes_at > resource.opens_at else day + dt.timedelta(days=1)
    return start, timezone.make_aware(dt.datetime.combine(end_day, resource.closes_at))


def _within_hours(resource: Resource, start: dt.datetime, end: dt.datetime) -> bool:
    if resource.opens_at is None or resource.closes_at is None:
        return True
    day = _local(start).date()
    for opened in (day, day - dt.timedelta(days=1)):  # a night period may have begun yesterday
        period_start, period_end = _working_period(resource, opened)
        if period_start <= start and end <= period_end:
            return True
    return False


# ---------------------------------------------------------------------- overlap
def _blocked_until(resource: Resource, end: dt.datetime) -> dt.datetime:
    return end + dt.timedelta(minutes=resource.buffer_minutes)


def _clashes(resources: list[Resource], start: dt.datetime, end: dt.datetime,
             exclude: Booking | None = None) -> list[Clash]:
    """Active reservations overlapping [start, end + buffer) of each resource; half-open, so
    back-to-back bookings do not clash."""
    query = Q()
    for resource in resources:
        query |= Q(resource=resource, starts_at__lt=_blocked_until(resource, end), blocked_until__gt=start)
    rows = Reservation.objects.filter(query, active=True).select_related("resource").order_by("starts_at")
    if exclude is not None and exclude.pk:
        rows = rows.exclude(booking=exclude)
    return [Clash(r.resource, r.booking_id, r.starts_at, r.blocked_until) for r in rows]


def _lock_resources(resources: list[Resource]) -> None:
    """Row locks in one order (no deadlock between two bookings of the same halls); SQLite
    runs every transaction IMMEDIATE, which already serialises writers."""
    if connection.vendor == "postgresql":
        list(Resource.objects.select_for_update().filter(pk__in=[r.pk for r in resources]).order_by("pk"))


def free_starts(resources: list[Resource], start: dt.datetime, end: dt.datetime,
                exclude: Booking | None = None) -> list[dt.datetime]:
    """Start times on the requested day (every half hour, within working hours) at which
    every resource is free for the same duration."""
    duration = end - start
    day = _local(start).date()
    opens = max(_working_period(r, day)[0] for r in resources)
    closes = min(_working_period(r, day)[1] for r in resources)
    found: list[dt.datetime] = []
    moment = opens
    while moment + duration <= closes and len(found) < MAX_SUGGESTIONS:
        if moment != start and not _clashes(resources, moment, moment + duration, exclude):
            found.append(moment)
        moment += SLOT_STEP
    return found


def free_halls(start: dt.datetime, end: dt.datetime, guests: int, exclude: Booking | None = None,
               skip: list[Resource] | None = None) -> list[Resource]:
    skipped = {r.pk for r in skip or []}
    halls = Resource.objects.filter(kind=Resource.Kind.HALL, active=True).exclude(pk__in=skipped)
    return [h for h in halls if (h.capacity is None or guests <= h.capacity) and _within_hours(h, start, end)
            and not _clashes([h], start, end, exclude)]


def _conflict(resources: list[Resource], data: BookingData, clashes: list[Clash],
              booking: Booking | None) -> BookingConflict:
    taken_halls = [c.resource for c in clashes if c.resource.kind == Resource.Kind.HALL]
    return BookingConflict(clashes, free_starts(resources, data.starts_at, data.ends_at, booking),
                           free_halls(data.starts_at, data.ends_at, _guests(data), booking, skip=taken_halls)
                           if taken_halls else [])


# ---------------------------------------------------------------------- services
def booking_check(data: BookingData, booking: Booking | None = None) -> None:
    """Everything ``booking_save`` would refuse, without saving (the admin form's check)."""
    resources = _validate(data)
    if data.status in HOLDING:
        clashes = _clashes(resources, data.starts_at, data.ends_at, booking)
        if clashes:
            raise _conflict(resources, data, clashes, booking)


def booking_save(data: BookingData, booking: Booking | None = None, *, origin: Connection | None = None,
                 ) -> Booking:
    """Create or change a booking; its products become (or update, or cancel) a Lime preorder.
    ``origin``: the CRM the booking was asked from (it is not sent the booking back as a deal)."""
    resources = _validate(data)
    try:
        with transaction.atomic():
            _lock_resources(resources)
            if data.status in HOLDING:
                clashes = _clashes(resources, data.starts_at, data.ends_at, booking)
                if clashes:
                    raise _conflict(resources, data, clashes, booking)
            booking = _write(booking or Booking(), data, resources, origin)
    except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a race the locks missed
        if "reservation_no_overlap" not in str(exc):
            raise
        raise _conflict(resources, data, _clashes(resources, data.starts_at, data.ends_at, booking),
                        booking) from exc
    return booking


def _write(booking: Booking, data: BookingData, resources: list[Resource], origin: Connection | None) -> Booking:
    booking.contact, booking.starts_at, booking.ends_at = data.contact, data.starts_at, data.ends_at
    booking.guests, booking.status, booking.comment = _guests(data), data.status, data.comment
    booking.save()
    booking.children.set(data.children)
    booking.reservations.all().delete()
    Reservation.objects.bulk_create(
        Reservation(booking=booking, resource=r, starts_at=data.starts_at, active=data.status in HOLDING,
                    blocked_until=_blocked_until(r, data.ends_at)) for r in resources)
    if data.lines is not None:
        booking.lines.all().delete()
        BookingLine.objects.bulk_create(
            BookingLine(booking=booking, product=ln.product, quantity=ln.quantity,
                        price=money(ln.price if ln.price is not None else ln.product.base_price))
            for ln in data.lines)
    booking.total = money(sum((ln.price * ln.quantity for ln in booking.lines.all()), Decimal("0")))
    booking.save(update_fields=["total", "updated_at"])
    _sync_preorder(booking)
    outbox_publish("booking.upsert", "booking", booking.pk, booking_snapshot(booking), origin=origin)
    return booking


def booking_cancel(booking: Booking) -> Booking:
    """Frees the halls and staff at once and cancels the preorder in Lime."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        booking.status = Booking.Status.CANCELLED
        booking.save(update_fields=["status", "updated_at"])
        booking.reservations.update(active=False)
        _sync_preorder(booking)
        outbox_publish("booking.upsert", "booking", booking.pk, booking_snapshot(booking))
    return booking


def _sync_preorder(booking: Booking) -> None:
    lines = list(booking.lines.select_related("product").order_by("pk"))
    current = booking.preorder
    if booking.status == Booking.Status.CANCELLED or not lines:
        if current is not None and current.status != Preorder.Status.CANCELLED:
            preorder_cancel(current)
        return
    reuse = current if current is not None and current.status != Preorder.Status.CANCELLED else None
    status = Preorder.Status.NEW if booking.status == Booking.Status.TENTATIVE else Preorder.Status.CONFIRMED
    preorder, _ = preorder_upsert(
        contact=booking.contact, scheduled_for=booking.starts_at, status=status, comment=f"Бронь №{booking.pk}",
        lines=[PreorderLineData(product=ln.product, quantity=ln.quantity, price=ln.price) for ln in lines],
        preorder=reuse)
    if booking.preorder_id != preorder.pk:
        booking.preorder = preorder
        booking.save(update_fields=["preorder", "updated_at"])


def booking_snapshot(booking: Booking) -> dict[str, Any]:
    return {
        "id": booking.pk, "contact_id": booking.contact_id, "status": booking.status,
        "starts_at": booking.starts_at.isoformat(), "ends_at": booking.ends_at.isoformat(),
        "guests": booking.guests, "total": str(booking.total),
        "resources": sorted(booking.reservations.values_list("resource_id", flat=True)),
        "lines": [{"product_id": ln.product_id, "quantity": str(ln.quantity), "price": str(ln.price)}
                  for ln in booking.lines.order_by("pk")],
    }
