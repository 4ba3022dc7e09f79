"""The monthly financial report of an organiser's events (a selector: reads only; files in
events.exports, the chart in events.chart).

An event belongs to the month it is held in (``starts_at`` in the venue's time zone) and
brings all its sales, whenever they were made, so the month shows what that month's events
earned. Sales whose event is not known yet are reported by the month they were made in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum

from events.models import EventDate, EventSetup, TicketSale
from hub.services.money import money

NO_TEMPLATE = "Без шаблона"
NO_EVENT = "Продажи без известного мероприятия"
DASH = "—"
REFUNDED = TicketSale.Status.REFUNDED
MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
          "ноябрь", "декабрь")


@dataclass(kw_only=True)
class Sums:
    """What a set of orders adds up to; a refunded order counts both as sold and as refunded."""

    tickets: int = 0
    revenue: Decimal = Decimal("0.00")
    refunded_tickets: int = 0
    refunds: Decimal = Decimal("0.00")
    orders: int = 0

    @property
    def net(self) -> Decimal:
        return self.revenue - self.refunds

    def add(self, other: Sums) -> None:
        self.tickets += other.tickets
        self.revenue += other.revenue
        self.refunded_tickets += other.refunded_tickets
        self.refunds += other.refunds
        self.orders += other.orders


@dataclass(kw_only=True)
class EventRow(Sums):
    event_id: int | None
    template_title: str
    title: str
    starts_at: dt.datetime | None  # local time of the report's time zone


@dataclass(kw_only=True)
class TemplateTotal(Sums):
    template_id: int | None
    title: str
    rows: list[EventRow] = field(default_factory=list)


@dataclass(kw_only=True)
class Report:
    month: dt.date
    tz: str
    templates: list[TemplateTotal]
    unlinked: EventRow
    total: Sums

    @property
    def rows(self) -> list[EventRow]:
        """Every event of the month in the order it is held (the chart's order)."""
        rows = [row for template in self.templates for row in template.rows]
        return sorted(rows, key=lambda row: (row.starts_at, row.event_id or 0))

    @property
    def is_empty(self) -> bool:
        return not self.templates and not self.unlinked.orders

    @property
    def month_name(self) -> str:
        return f"{MONTHS[self.month.month - 1]} {self.month.year}"


def month_bounds(month: dt.date, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """The month as an aware half-open interval in ``tz``: the database compares in UTC."""
    zone = ZoneInfo(tz)
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (dt.datetime.combine(first, dt.time.min, tzinfo=zone),
            dt.datetime.combine(following, dt.time.min, tzinfo=zone))


def _sums(prefix: str = "") -> dict[str, Sum | Count]:
    """Conditional aggregation, so one query gives sales and refunds together."""
    refunded = Q(**{f"{prefix}status": REFUNDED})
    return {"s_tickets": Sum(f"{prefix}tickets"), "s_revenue": Sum(f"{prefix}amount"),
            "s_refunded_tickets": Sum(f"{prefix}tickets", filter=refunded),
            "s_refunds": Sum(f"{prefix}amount", filter=refunded), "s_orders": Count(f"{prefix}id")}


def _sums_of(values: dict) -> dict[str, object]:
    return {"tickets": values["s_tickets"] or 0, "revenue": money(values["s_revenue"]),
            "refunded_tickets": values["s_refunded_tickets"] or 0, "refunds": money(values["s_refunds"]),
            "orders": values["s_orders"] or 0}


def _event_values(start: dt.datetime, end: dt.datetime, setup: EventSetup | None) -> QuerySet:
    dates = EventDate.objects.filter(starts_at__gte=start, starts_at__lt=end)
    if setup is not None:
        dates = dates.filter(setup=setup)
    return dates.values("id", "title", "starts_at", "template_id", "template__title").annotate(**_sums("sales__"))


def _unlinked(start: dt.datetime, end: dt.datetime, setup: EventSetup | None) -> EventRow:
    sales = TicketSale.objects.filter(event__isnull=True, sold_at__gte=start, sold_at__lt=end)
    if setup is not None:
        sales = sales.filter(site_id=setup.site_id)
    return EventRow(event_id=None, template_title=DASH, title=NO_EVENT, starts_at=None,
                    **_sums_of(sales.aggregate(**_sums())))


def _group(values: list[dict], zone: ZoneInfo) -> list[TemplateTotal]:
    groups: dict[int | None, TemplateTotal] = {}
    for value in values:
        template_title = value["template__title"] or NO_TEMPLATE
        row = EventRow(event_id=value["id"], template_title=template_title,
                       title=value["title"] or value["template__title"] or DASH,
                       starts_at=value["starts_at"].astimezone(zone), **_sums_of(value))
        group = groups.setdefault(value["template_id"],
                                  TemplateTotal(template_id=value["template_id"], title=template_title))
        group.rows.append(row)
        group.add(row)
    for group in groups.values():
        group.rows.sort(key=lambda row: (row.starts_at, row.event_id))
    return sorted(groups.values(), key=lambda g: (g.template_id is None, g.title.casefold(), g.template_id or 0))


def event_report(month: dt.date, tz: str = "Europe/Moscow", setup: EventSetup | None = None) -> Report:
    """Tickets, revenue and refunds of the events held in ``month`` (two queries in all)."""
    start, end = month_bounds(month, tz)
    templates = _group(list(_event_values(start, end, setup)), ZoneInfo(tz))
    unlinked = _unlinked(start, end, setup)
    total = Sums()
    for part in [*templates, unlinked]:
        total.add(part)
    return Report(month=month.replace(day=1), tz=tz, templates=templates, unlinked=unlinked, total=total)


# --- export --------------------------------------------------------------------------------
