"""What every analytics page does with its report: the page (filters, picture, table,
downloads) or, with ``?format=csv|xlsx``, the file of the same table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib import admin
from django.core.paginator import Page as PaginatorPage
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from analytics.charts import Series
from analytics.forms import ReportForm
from analytics.tables import Table, table_csv, table_xlsx
from hub.reports import Chart

if TYPE_CHECKING:
    from analytics.pages import Page

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}
PER_PAGE = 100
EXPORT_LIMIT = 50_000  # rows a client list writes to a file; the file says when there are more
NO_DATA = "Нет данных"


@dataclass
class Report:
    chart_title: str
    chart: Chart | None
    series: tuple[Series, ...]
    table: Table
    sheet: str  # the XLSX sheet's title
    help: str = ""  # what the numbers mean, above the picture
    summary: str = ""  # one line above the table ("Всего 120 клиентов")
    empty: str = NO_DATA  # instead of an empty picture / table
    export: Callable[[], Table] | None = None  # the whole table when the page shows one part of it
    pager: PaginatorPage | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (url, text): related pages


def render_report(request: HttpRequest, page: Page, form: ReportForm, report: Report) -> HttpResponse:
    kind = request.GET.get("format", "")
    if kind in FORMATS and not form.errors:
        table = report.export() if report.export else report.table
        body = table_xlsx(table, report.sheet) if kind == "xlsx" else table_csv(table)
        response = HttpResponse(body, content_type=FORMATS[kind])
        response["Content-Disposition"] = (f'attachment; filename="{page.name}-{timezone.localdate():%Y-%m-%d}'
                                           f'.{kind}"')
        return response
    context = {
        **admin.site.each_context(request), "title": page.title, "page": page, "form": form, "report": report,
        "csv_url": form.query(format="csv"), "xlsx_url": form.query(format="xlsx"),
        "page_urls": _page_urls(form, report.pager),
    }
    # a download asked with filters not understood gets the page that says why
    return TemplateResponse(request, "admin/analytics/report.html", context, status=400 if kind in FORMATS else 200)


def _page_urls(form: ReportForm, pager: PaginatorPage | None) -> dict[str, str]:
    if pager is None:
        return {}
    urls = {}
    if pager.has_previous():
        urls["previous"] = form.query(page=str(pager.previous_page_number()))
    if pager.has_next():
        urls["next"] = form.query(page=str(pager.next_page_number()))
    return urls
