"""The bookings calendar as a picture: one track per hall or staff member (per day in the
week view), bookings as blocks placed by time, the buffer after each shown hatched."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from bookings.models import Booking, Reservation, Resource

WEEKDAYS = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")


@dataclass
class Block:
    booking_id: int
    label: str
    status: str
    left: float  # % of the track
    width: float
    buffer_width: float

    @property
    def buffer_left(self) -> float:
        return round(self.left + self.width, 2)


@dataclass
class Track:
    label: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Calendar:
    title: str
    hours: list[int]
    groups: list[tuple[Resource, list[Track]]]
    previous: dt.date
    next: dt.date


def _bounds(resources: list[Resource]) -> tuple[int, int]:
    """The shown hours: from the earliest opening to the latest closing (08–23 if unknown)."""
    opens = [r.opens_at.hour for r in resources if r.opens_at and r.closes_at]
    closes = [(r.closes_at.hour + (1 if r.closes_at.minute else 0)) if r.closes_at > r.opens_at else 24
              for r in resources if r.opens_at and r.closes_at]
    return (min(opens, default=8), max(closes, default=23)) if opens else (8, 23)


def calendar_build(day: dt.date, span: str = "day") -> Calendar:
    days = [day + dt.timedelta(days=n) for n in range(7 if span == "week" else 1)]
    resources = list(Resource.objects.filter(active=True).order_by("kind", "name"))
    first, last = _bounds(resources)
    tz = timezone.get_current_timezone()
    window_start = dt.datetime.combine(days[0], dt.time(), tzinfo=tz)
    window_end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    rows = (Reservation.objects.filter(active=True, resource__in=resources, starts_at__lt=window_end,
                                       blocked_until__gt=window_start)
            .select_related("booking__contact").order_by("starts_at"))
    by_resource: dict[int, list[Reservation]] = {}
    for row in rows:
        by_resource.setdefault(row.resource_id, []).append(row)
    groups = []
    for resource in resources:
        tracks = []
        for current in days:
            start = dt.datetime.combine(current, dt.time(first % 24), tzinfo=tz)
            end = start + dt.timedelta(hours=last - first)
            label = f"{WEEKDAYS[current.weekday()]} {current:%d.%m}" if span == "week" else str(resource)
            tracks.append(Track(label, [_block(r, start, end) for r in by_resource.get(resource.pk, [])
                                        if r.starts_at < end and r.blocked_until > start]))
        groups.append((resource, tracks))
    step = dt.timedelta(days=len(days))
    title = f"{days[0]:%d.%m.%Y}" + (f" — {days[-1]:%d.%m.%Y}" if len(days) > 1 else "")
    return Calendar(title=title, hours=list(range(first, last)), groups=groups,
                    previous=day - step, next=day + step)


def _block(row: Reservation, start: dt.datetime, end: dt.datetime) -> Block:
    total = (end - start).total_seconds()
    booking: Booking = row.booking
    shown_start = max(row.starts_at, start)
    shown_end = min(booking.ends_at, end)
    buffer_end = min(row.blocked_until, end)
    local_start, local_end = timezone.localtime(booking.starts_at), timezone.localtime(booking.ends_at)
    who = f"{booking.contact.first_name} {booking.contact.last_name}".strip()
    return Block(booking_id=booking.pk, status=booking.status,
                 label=f"№{booking.pk} {local_start:%H:%M}–{local_end:%H:%M} {who}".strip(),
                 left=round((shown_start - start).total_seconds() / total * 100, 2),
                 width=round(max((shown_end - shown_start).total_seconds(), 0) / total * 100, 2),
                 buffer_width=round(max((buffer_end - max(shown_end, start)).total_seconds(), 0) / total * 100, 2))
