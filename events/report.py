"""The monthly financial report of an organiser's events (a selector: reads only).

An event belongs to the month it is held in (``starts_at`` in the venue's time zone) and
brings all its sales, whenever they were made, so the month shows what that month's events
earned. Sales whose event is not known yet are reported by the month they were made in."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

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

HEADER = ("Шаблон", "Мероприятие", "Начало", "Продано билетов", "Выручка", "Возвращено билетов", "Возвраты",
          "Нетто", "Заказов")
MONEY_COLUMNS = (5, 7, 8)  # 1-based, as in a sheet
DATE_COLUMN = 3
SUBTOTAL = "Итого по шаблону"
GRAND_TOTAL = "Итого за месяц"


def _line(template: str, title: str, starts_at: dt.datetime | None, sums: Sums) -> list[object]:
    return [template, title, starts_at, sums.tickets, sums.revenue, sums.refunded_tickets, sums.refunds, sums.net,
            sums.orders]


def report_lines(report: Report) -> Iterator[tuple[str, list[object]]]:
    """The table both exports write: (kind, cells), kind being template/event/unlinked/total."""
    for template in report.templates:
        yield "template", _line(template.title, SUBTOTAL, None, template)
        for row in template.rows:
            yield "event", _line(row.template_title, row.title, row.starts_at, row)
    yield "unlinked", _line(DASH, NO_EVENT, None, report.unlinked)
    yield "total", _line(GRAND_TOTAL, "", None, report.total)


def _safe_text(value: str) -> str:
    """Titles come from CRM deals: a leading = + - @ must not become a spreadsheet formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return f"{value:%d.%m.%Y %H:%M}"
    if isinstance(value, str):
        return _safe_text(value)
    return str(value)


def report_csv(report: Report) -> bytes:
    """UTF-8 with a BOM and ``;`` so Russian Excel opens it as a table; dot decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADER)
    for _kind, cells in report_lines(report):
        writer.writerow([_csv_cell(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_row(sheet, number: int, cells: list[object], bold: bool) -> None:  # type: ignore[no-untyped-def]
    for column, value in enumerate(cells, start=1):
        if isinstance(value, dt.datetime):
            value = value.replace(tzinfo=None)  # Excel has no time zones; the report's is in its caption
        cell = sheet.cell(row=number, column=column, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the title starts with
        if column in MONEY_COLUMNS:
            cell.number_format = "#,##0.00"
        elif column == DATE_COLUMN:
            cell.number_format = "dd.mm.yyyy hh:mm"
        if bold:
            cell.font = Font(bold=True)


def report_xlsx(report: Report) -> bytes:
    """One sheet: header (frozen), template subtotals in bold, their events, the unlinked row, total."""
    book = Workbook()
    sheet = book.active
    sheet.title = f"{report.month:%Y-%m}"
    for column, title in enumerate(HEADER, start=1):
        sheet.cell(row=1, column=column, value=title).font = Font(bold=True)
    number = 1
    for number, (kind, cells) in enumerate(report_lines(report), start=2):
        _xlsx_row(sheet, number, cells, bold=kind in ("template", "total"))
    sheet.cell(row=number + 2, column=1, value=f"Время — {report.tz}").data_type = "s"
    for column, width in enumerate((28, 40, 17, 16, 16, 19, 16, 16, 10), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- chart ---------------------------------------------------------------------------------

LEFT, RIGHT, TOP, BOTTOM = 80, 12, 12, 48
MIN_GROUP = 64


@dataclass(frozen=True)
class Bar:
    kind: str  # "revenue" | "refunds"
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class BarGroup:
    center: float
    date_label: str
    title_label: str
    bars: tuple[Bar, Bar]


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: float
    baseline: float
    tick_x: int  # right edge of the axis labels
    label_y: float  # date line under the bars
    title_y: float  # title line under the date
    groups: list[BarGroup]
    ticks: list[Tick]


def rubles(value: Decimal | float) -> str:
    """12 345,00 — as a Russian reader writes money."""
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")


def _scale_top(largest: Decimal) -> int:
    """A round top of the axis (1, 2, 2.5 or 5 times a power of ten per quarter)."""
    quarter = max(float(largest) / 4, 1.0)
    power = 10 ** math.floor(math.log10(quarter))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= quarter)
    return math.ceil(step * 4)


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def _group_of(row: EventRow, index: int, group_width: float, plot_height: float, top: int) -> BarGroup:
    x0 = LEFT + index * group_width
    bar_width = group_width * 0.34
    when = f"{row.starts_at:%d.%m.%Y %H:%M}" if row.starts_at else ""
    bars = []
    for offset, kind, value, word in ((0.14, "revenue", row.revenue, "выручка"),
                                      (0.52, "refunds", row.refunds, "возвраты")):
        height = round(float(value) / top * plot_height, 2)
        bars.append(Bar(kind=kind, x=round(x0 + group_width * offset, 2), y=round(TOP + plot_height - height, 2),
                        width=round(bar_width, 2), height=height,
                        title=f"{when} {row.title}: {word} {rubles(value)} ₽"))
    return BarGroup(center=round(x0 + group_width / 2, 2), date_label=f"{row.starts_at:%d.%m %H:%M}",
                    title_label=_shorten(row.title, int(group_width / 7)), bars=(bars[0], bars[1]))


def chart_bars(report: Report, width: int = 960, height: int = 320) -> Chart | None:
    """Geometry of the revenue/refunds bar chart per event date; None when there is nothing to draw.
    Many events widen the picture rather than squeeze the bars."""
    rows = report.rows
    if not rows:
        return None
    width = max(width, LEFT + RIGHT + MIN_GROUP * len(rows))
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    top = _scale_top(max(max(row.revenue, row.refunds) for row in rows))
    ticks = [Tick(y=round(TOP + plot_height * (1 - i / 4), 2), label=rubles(top * i / 4).removesuffix(",00"))
             for i in range(5)]
    groups = [_group_of(row, i, plot_width / len(rows), plot_height, top) for i, row in enumerate(rows)]
    return Chart(width=width, height=height, left=LEFT, right=width - RIGHT, baseline=TOP + plot_height,
                 tick_x=LEFT - 6, label_y=TOP + plot_height + 18, title_y=TOP + plot_height + 32, groups=groups,
                 ticks=ticks)
