"""Which tickets sell most and when, and where people pass: sums per product, service point,
local weekday or local hour, grouped by the database (two queries per report whatever the
number of rows: the groups and the total).

A sale is a line of a paid receipt; refund receipts (status "refunded") count nothing. Weekday
and hour are read in the venue's time zone, so a sale at 23:30 in Moscow is that Moscow day's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, Expression, F, OuterRef, QuerySet, Sum, Value
from django.db.models.aggregates import Aggregate
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay, NullIf

from analytics.selectors.common import day_bounds, zone_of
from analytics.tables import INT, MONEY, UNITS, units
from hub.models import Connection, ExternalRef, Pass, ProductCategory, Purchase, PurchaseLine, ServicePoint
from hub.selectors import category_subtree
from hub.services.money import money

WEEKDAYS = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
WEEKDAYS_SHORT = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")
NO_PRODUCT = "Товар не указан"
NO_POINT = "Точка не указана"


@dataclass(frozen=True)
class Measure:
    aggregate: Aggregate
    kind: str  # analytics.tables INT | UNITS | MONEY
    additive: bool = True  # a distinct count is not: the groups' counts do not add up to the total


@dataclass(frozen=True)
class Bucket:
    key: int | None
    label: str
    values: dict[str, Decimal | int]


@dataclass
class Breakdown:
    by: str
    tz: str
    rows: list[Bucket]
    total: dict[str, Decimal | int | None]
    others: dict[str, Decimal | int | None] | None  # beyond the top rows (ranked breakdowns)

    @property
    def is_empty(self) -> bool:
        return not any(self.total.values())


def _value(value: object, kind: str) -> Decimal | int:
    if kind == MONEY:
        return money(value)  # type: ignore[arg-type]
    if kind == UNITS:
        return units(value)  # type: ignore[arg-type]
    return int(value or 0)  # type: ignore[call-overload]


def _values(row: dict, measures: dict[str, Measure]) -> dict[str, Decimal | int]:
    return {name: _value(row[name], m.kind) for name, m in measures.items()}


def _ranked(rows: QuerySet, *, by: str, tz: str, key: Expression, label: Expression, fallback: str,
            measures: dict[str, Measure], order: str, top: int) -> Breakdown:
    """The ``top`` groups by ``order`` (biggest first), the rest as one "others" line."""
    aggregates = {name: m.aggregate for name, m in measures.items()}
    groups = (rows.annotate(group_key=key, group_label=label).values("group_key", "group_label")
              .annotate(**aggregates)
              .order_by(f"-{order}", F("group_label").asc(nulls_last=True), "group_key")[:top])
    buckets = [Bucket(row["group_key"], row["group_label"] or fallback, _values(row, measures)) for row in groups]
    total = _values(rows.aggregate(**aggregates), measures)
    others: dict[str, Decimal | int | None] = {
        name: (total[name] - sum((b.values[name] for b in buckets), 0)) if m.additive else None
        for name, m in measures.items()}
    if not any(others[name] for name, m in measures.items() if m.additive):
        return Breakdown(by=by, tz=tz, rows=buckets, total=dict(total), others=None)
    return Breakdown(by=by, tz=tz, rows=buckets, total=dict(total), others=others)


def _slots(rows: QuerySet, *, by: str, tz: str, key: Expression, slots: range, names: list[str],
           measures: dict[str, Measure]) -> Breakdown:
    """Every slot (weekday, hour) in order, the empty ones as zeros."""
    aggregates = {name: m.aggregate for name, m in measures.items()}
    found = {row["group_key"]: _values(row, measures)
             for row in rows.annotate(group_key=key).values("group_key").annotate(**aggregates).order_by()}
    zero = _values(dict.fromkeys(measures), measures)
    buckets = [Bucket(slot, names[i], found.get(slot, zero)) for i, slot in enumerate(slots)]
    return Breakdown(by=by, tz=tz, rows=buckets, total=dict(_values(rows.aggregate(**aggregates), measures)),
                     others=None)


def weekday_names() -> list[str]:
    return list(WEEKDAYS)


def hour_names() -> list[str]:
    return [f"{hour:02d}:00–{hour:02d}:59" for hour in range(24)]


def _when(rows: QuerySet, field: str, by: str, zone: ZoneInfo, measures: dict[str, Measure]) -> Breakdown:
    if by == "weekday":
        return _slots(rows, by=by, tz=str(zone), key=ExtractIsoWeekDay(field, tzinfo=zone), slots=range(1, 8),
                      names=weekday_names(), measures=measures)
    return _slots(rows, by=by, tz=str(zone), key=ExtractHour(field, tzinfo=zone), slots=range(24),
                  names=hour_names(), measures=measures)


# --- tickets ---------------------------------------------------------------------------------

TICKET_MEASURES = {
    "units": Measure(Sum("quantity"), UNITS),
    "revenue": Measure(Sum("amount"), MONEY),
    "receipts": Measure(Count("purchase_id", distinct=True), INT, additive=False),
}


def sold_lines(start: dt.datetime, end: dt.datetime, *, venue: Connection | None = None,
               category: ProductCategory | None = None, kind: str | None = None) -> QuerySet[PurchaseLine]:
    """Lines of the paid receipts in [start, end), of one venue, category (with its
    subcategories) and product kind when given."""
    lines = PurchaseLine.objects.filter(purchase__status=Purchase.Status.PAID, purchase__purchased_at__gte=start,
                                        purchase__purchased_at__lt=end)
    if kind:
        lines = lines.filter(product__kind=kind)
    if category is not None:
        lines = lines.filter(product__category_id__in=category_subtree([category.pk]))
    if venue is not None:
        lines = lines.filter(Exists(ExternalRef.objects.filter(connection=venue, kind="purchase",
                                                               local_id=OuterRef("purchase_id"))))
    return lines


def ticket_sales(first: dt.date, last: dt.date, *, by: str = "product", venue: Connection | None = None,
                 category: ProductCategory | None = None, kind: str | None = None, measure: str = "units",
                 top: int = 20) -> Breakdown:
    """Units, revenue and receipts of the local days ``first``..``last`` per product (the ``top``
    by ``measure``), per local weekday or per local hour."""
    zone = zone_of(venue)
    lines = sold_lines(*day_bounds(first, last, zone), venue=venue, category=category, kind=kind)
    if by == "product":
        return _ranked(lines, by=by, tz=str(zone), key=F("product_id"),
                       label=Coalesce(F("product__name"), NullIf(F("product_name"), Value(""))), fallback=NO_PRODUCT,
                       measures=TICKET_MEASURES, order=measure, top=top)
    return _when(lines, "purchase__purchased_at", by, zone, TICKET_MEASURES)


# --- passes ----------------------------------------------------------------------------------

PASS_MEASURES = {
    "passes": Measure(Count("pk"), INT),
    "visitors": Measure(Count("contact_id", distinct=True), INT, additive=False),
    "amount": Measure(Sum("amount"), MONEY),
}


def passes_in(start: dt.datetime, end: dt.datetime, *, venue: Connection | None = None,
              point: ServicePoint | None = None) -> QuerySet[Pass]:
    rows = Pass.objects.filter(passed_at__gte=start, passed_at__lt=end)
    if point is not None:
        rows = rows.filter(service_point=point)
    if venue is not None:
        rows = rows.filter(Exists(ExternalRef.objects.filter(connection=venue, kind="pass", local_id=OuterRef("pk"))))
    return rows


def pass_stats(first: dt.date, last: dt.date, *, by: str = "point", venue: Connection | None = None,
               point: ServicePoint | None = None, top: int = 20) -> Breakdown:
    """Passes, distinct visitors and the amount written off per service point or product (the
    ``top`` by passes), per local weekday or per local hour."""
    zone = zone_of(venue)
    rows = passes_in(*day_bounds(first, last, zone), venue=venue, point=point)
    if by in ("point", "product"):
        field = "service_point" if by == "point" else "product"
        return _ranked(rows, by=by, tz=str(zone), key=F(f"{field}_id"), label=F(f"{field}__name"),
                       fallback=NO_POINT if by == "point" else NO_PRODUCT, measures=PASS_MEASURES, order="passes",
                       top=top)
    return _when(rows, "passed_at", by, zone, PASS_MEASURES)
