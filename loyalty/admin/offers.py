"""Offer exposures (read-only: the engine and the campaigns write them) and the "Offer results"
page built on them: revenue per client offered against the control group, as a chart, a table
and XLSX / CSV files with the same numbers."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from hub.reports import BarSpec, Chart, GroupSpec, bar_chart, csv_table, rubles, xlsx_cell
from loyalty.admin.ledger import ReadOnlyMixin
from loyalty.models import OfferExposure
from loyalty.reports import DEFAULT_DAYS, KINDS, WINDOWS, OfferResult, offers_overview

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}
HEADER = ("Тип", "Предложение", "Получили", "Воспользовались", "Конверсия, %", "Контрольная группа",
          "Воспользовались в контрольной группе", "Конверсия контрольной группы, %", "Выручка получивших",
          "Выручка на клиента", "Выручка контрольной группы", "Выручка на клиента в контрольной группе",
          "Прирост на клиента", "Прирост, %", "Начислено баллов")
MONEY_COLUMNS = (9, 10, 11, 12, 13, 15)  # 1-based, as in a sheet
PERCENT_COLUMNS = (5, 8, 14)
WIDTHS = (16, 40, 11, 16, 13, 14, 16, 18, 18, 14, 18, 18, 14, 11, 16)


def _days(raw: str | None) -> tuple[int, str]:
    """The asked window, or the default one with the reason the asked one was not taken."""
    if raw is None or raw == "":
        return DEFAULT_DAYS, ""
    value = raw.strip()
    if value.isdigit() and int(value) in WINDOWS:
        return int(value), ""
    allowed = ", ".join(str(d) for d in WINDOWS)
    return DEFAULT_DAYS, (f"Не понятен период «{raw[:20]}»: можно {allowed} дней. "
                          f"Показаны результаты за {DEFAULT_DAYS} дней.")


def _kind(raw: str | None) -> tuple[str | None, str]:
    if not raw:
        return None, ""
    if raw in KINDS:
        return raw, ""
    return None, f"Нет такого вида предложений «{raw[:20]}»: показаны все."


def offers_lines(results: list[OfferResult]) -> Iterator[list[object]]:
    """The table both files write, one row per offer; an empty cell where a number has no
    meaning (no control group: no uplift)."""
    for r in results:
        yield [r.kind_label, r.name, r.offered.clients, r.offered.used, r.offered.conversion, r.control.clients,
               r.control.used, r.control.conversion, r.offered.revenue, r.offered.revenue_per_client,
               r.control.revenue, r.control.revenue_per_client, r.uplift, r.uplift_percent, r.points]


def offers_csv(results: list[OfferResult]) -> bytes:
    return csv_table(HEADER, offers_lines(results))


def offers_xlsx(results: list[OfferResult], days: int) -> bytes:
    """One sheet: header (frozen), the offers, and a line saying what the window is."""
    book = Workbook()
    sheet = book.active
    sheet.title = f"{days} дней"
    for column, title in enumerate(HEADER, start=1):
        sheet.cell(row=1, column=column, value=title).font = Font(bold=True)
    number = 1
    for number, cells in enumerate(offers_lines(results), start=2):
        for column, value in enumerate(cells, start=1):
            fmt = "#,##0.00" if column in MONEY_COLUMNS else "0.0" if column in PERCENT_COLUMNS else ""
            xlsx_cell(sheet, number, column, value, number_format=fmt)
    xlsx_cell(sheet, number + 2, 1, f"Выручка — за {days} дней после того, как клиент получил предложение "
                                    "(или попал в контрольную группу)")
    for column, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def offers_chart(results: list[OfferResult]) -> Chart | None:
    """Revenue per client, offered against control, per offer that anybody got."""
    groups = []
    for r in results:
        if not r.offered.clients:
            continue
        offered, control = r.offered.revenue_per_client, r.control.revenue_per_client
        control_title = (f"{r.name}: контрольная группа — {rubles(control)} ₽ на клиента" if control is not None
                         else f"{r.name}: контрольной группы нет")
        groups.append(GroupSpec(label=r.name, sublabel=r.kind_label, bars=(
            BarSpec("offered", offered or 0, f"{r.name}: получившие — {rubles(offered or 0)} ₽ на клиента"),
            BarSpec("control", control or 0, control_title))))
    return bar_chart(groups)


@admin.register(OfferExposure)
class OfferExposureAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("offer", "offer_id", "group", "contact", "at", "used_at")
    list_filter = ("offer", "group")
    search_fields = ("=offer_id",)
    list_select_related = ("contact",)
    date_hierarchy = "at"
    change_list_template = "admin/loyalty/offerexposure/change_list.html"

    def get_urls(self) -> list[Any]:
        return [path("results/", self.admin_site.admin_view(self.results_view), name="loyalty_offer_results"),
                *super().get_urls()]

    def results_view(self, request: HttpRequest) -> HttpResponse:
        """Offer results for a window of 7, 30 or 90 days, optionally of one kind of offer."""
        if not request.user.has_perm("loyalty.view_offerexposure"):
            raise PermissionDenied
        days, days_error = _days(request.GET.get("days"))
        kind, kind_error = _kind(request.GET.get("kind"))
        results = offers_overview(days=days, kind=kind)
        params = {"days": str(days), **({"kind": kind} if kind else {})}
        fmt = request.GET.get("format", "")
        if fmt in FORMATS:
            body = offers_xlsx(results, days) if fmt == "xlsx" else offers_csv(results)
            response = HttpResponse(body, content_type=FORMATS[fmt])
            stamp = f"{timezone.localdate():%Y-%m-%d}"
            response["Content-Disposition"] = f'attachment; filename="offers-{days}d-{stamp}.{fmt}"'
            return response
        context = {
            **self.admin_site.each_context(request), "title": _("Offer results"), "opts": self.model._meta,
            "results": results, "chart": offers_chart(results), "days": days, "windows": WINDOWS, "kind": kind,
            "kinds": OfferExposure.Offer.choices, "errors": [e for e in (days_error, kind_error) if e],
            "xlsx_url": "?" + urlencode({**params, "format": "xlsx"}),
            "csv_url": "?" + urlencode({**params, "format": "csv"}),
        }
        return TemplateResponse(request, "admin/loyalty/offers_report.html", context)
