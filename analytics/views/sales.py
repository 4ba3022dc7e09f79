"""Tickets (what sells most, on which weekday and hour) and passes (which attractions and zones
people use, and when)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from analytics.charts import chart_or_none, series
from analytics.forms import ALL, PassesForm, TicketsForm
from analytics.selectors.sales import WEEKDAYS_SHORT, Breakdown, Bucket, pass_stats, ticket_sales
from analytics.tables import INT, MONEY, TEXT, UNITS, Column, Row, Table, display
from analytics.views.base import Report, render_report
from hub.reports import BarSpec, GroupSpec

if TYPE_CHECKING:
    from analytics.pages import Page

AXES = {"product": "Товар", "point": "Аттракцион / зона", "weekday": "День недели", "hour": "Час"}
OTHERS = {"product": "Прочие товары", "point": "Прочие точки"}
TICKET_COLUMNS = (Column("Штук", UNITS), Column("Выручка, ₽", MONEY), Column("Чеков", INT))
PASS_COLUMNS = (Column("Проходов", INT), Column("Посетителей", INT), Column("Списано, ₽", MONEY))
TICKET_MEASURES = ("units", "revenue", "receipts")
PASS_MEASURES = ("passes", "visitors", "amount")
LINKS = {"product": "admin:hub_product_change", "point": "admin:hub_servicepoint_change"}


def _group_label(data: Breakdown, bucket: Bucket) -> str:
    if data.by == "weekday":
        return WEEKDAYS_SHORT[bucket.key - 1]  # type: ignore[operator]
    if data.by == "hour":
        return f"{bucket.key:02d}"
    return bucket.label


def _table(data: Breakdown, columns: tuple[Column, ...], measures: tuple[str, ...], note: str) -> Table:
    table = Table(columns=(Column(AXES[data.by], TEXT), *columns), note=note)
    link = LINKS.get(data.by)
    for bucket in data.rows:
        url = reverse(link, args=[bucket.key]) if link and bucket.key is not None else ""
        table.rows.append(Row((bucket.label, *(bucket.values[m] for m in measures)), link=url))
    if data.others is not None:
        table.rows.append(Row((OTHERS[data.by], *(data.others[m] for m in measures)), kind="other"))
    table.rows.append(Row(("Итого", *(data.total[m] for m in measures)), kind="total"))
    return table


def _chart(data: Breakdown, measure: str, kind: str, unit: str, second: tuple[str, str, str] | None):  # type: ignore[no-untyped-def]
    """One bar per row, of ``measure``; ``second`` (measure, kind, unit) is written under it."""
    groups = []
    for bucket in data.rows:
        value = bucket.values[measure]
        text = f"{bucket.label}: {display(value, kind)} {unit}"
        sublabel = ""
        if second is not None and data.by in ("product", "point"):
            sublabel = f"{display(bucket.values[second[0]], second[1])} {second[2]}"
            text += f", {sublabel}"
        groups.append(GroupSpec(label=_group_label(data, bucket), sublabel=sublabel,
                                bars=(BarSpec(measure, value, text),)))  # type: ignore[arg-type]
    return chart_or_none(groups, whole=kind != MONEY)


def tickets_view(request: HttpRequest, page: Page) -> HttpResponse:
    """Units and revenue per product (the best sellers), per weekday or per hour."""
    form = TicketsForm(request.GET)
    v = form.values
    data = ticket_sales(v["date_from"], v["date_to"], by=v["by"], venue=v["venue"], category=v["category"],
                        kind=None if v["kind"] == ALL else v["kind"], measure=v["measure"], top=v["top"])
    measure = v["measure"]
    units_spec, revenue_spec = ("units", UNITS, "шт."), ("revenue", MONEY, "₽")
    shown, other = (units_spec, revenue_spec) if measure == "units" else (revenue_spec, units_spec)
    chart = _chart(data, shown[0], shown[1], shown[2], other)
    picture = {"product": "Самые продаваемые товары", "weekday": "Продажи по дням недели", "hour": "Продажи по часам"}
    label = "штуки" if measure == "units" else "выручка, ₽"
    note = f"{v['date_from']:%d.%m.%Y}–{v['date_to']:%d.%m.%Y}, время — {data.tz}; только оплаченные чеки"
    report = Report(
        chart_title=f"{picture[v['by']]}: {label}", chart=chart, series=series((measure, label.capitalize())),
        table=_table(data, TICKET_COLUMNS, TICKET_MEASURES, note), sheet="Билеты",
        help=(f"Строки оплаченных чеков с {v['date_from']:%d.%m.%Y} по {v['date_to']:%d.%m.%Y}; это продажи: "
              f"возвраты (в Лайме — отдельные чеки возврата) из них не вычитаются. "
              f"Дни недели и часы — по времени {data.tz}. «Чеков» — в скольких чеках был товар."))
    return render_report(request, page, form, report)


def passes_view(request: HttpRequest, page: Page) -> HttpResponse:
    """Passes per attraction / paid zone or product, per weekday or per hour."""
    form = PassesForm(request.GET)
    v = form.values
    data = pass_stats(v["date_from"], v["date_to"], by=v["by"], venue=v["venue"], point=v["point"], top=v["top"])
    picture = {"point": "Проходы по аттракционам и зонам", "product": "Проходы по товарам",
               "weekday": "Проходы по дням недели", "hour": "Проходы по часам"}
    note = f"{v['date_from']:%d.%m.%Y}–{v['date_to']:%d.%m.%Y}, время — {data.tz}"
    report = Report(
        chart_title=picture[v["by"]], chart=_chart(data, "passes", INT, "проходов", ("visitors", INT, "чел.")),
        series=series(("passes", "Проходы")), table=_table(data, PASS_COLUMNS, PASS_MEASURES, note), sheet="Проходы",
        help=(f"Проходы (списания) с {v['date_from']:%d.%m.%Y} по {v['date_to']:%d.%m.%Y}; дни недели и часы — "
              f"по времени {data.tz}. «Посетителей» — разных клиентов; проходы без клиента в них не считаются."))
    return render_report(request, page, form, report)
