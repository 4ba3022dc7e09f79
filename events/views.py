"""Admin pages of the events app: the monthly report (a table, a chart, XLSX and CSV)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from events.chart import chart_bars
from events.exports import report_csv, report_xlsx
from events.models import EventSetup
from events.report import Report, event_report

MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}


def _zone(setup: EventSetup | None) -> str:
    """The venue's time zone (its site connection's) decides which month an event is held in."""
    name = setup.site.time_zone if setup is not None else settings.TIME_ZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return settings.TIME_ZONE
    return name


def _month(raw: str | None, tz: str) -> tuple[dt.date, str]:
    """The asked month, or this month with the reason why the asked one was not understood."""
    today = timezone.localdate(timezone=ZoneInfo(tz)).replace(day=1)
    if not raw:
        return today, ""
    match = MONTH.fullmatch(raw.strip())
    if match and 1900 <= int(match[1]) <= 9998 and 1 <= int(match[2]) <= 12:
        return dt.date(int(match[1]), int(match[2]), 1), ""
    return today, f"Не понятен месяц «{raw[:20]}»: нужен вид ГГГГ-ММ, например {today:%Y-%m}. Показан текущий месяц."


def _setup(raw: str | None) -> tuple[EventSetup | None, str]:
    if not raw:
        return None, ""
    setup = None
    if re.fullmatch(r"[0-9]{1,18}", raw):
        setup = EventSetup.objects.select_related("site").filter(pk=int(raw)).first()
    if setup is None:
        return None, "Такой настройки мероприятий нет: показаны все."
    return setup, ""


def _shift(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _download(report: Report, kind: str) -> HttpResponse:
    body = report_xlsx(report) if kind == "xlsx" else report_csv(report)
    response = HttpResponse(body, content_type=FORMATS[kind])
    response["Content-Disposition"] = f'attachment; filename="events-{report.month:%Y-%m}.{kind}"'
    return response


def _query(month: dt.date, setup: EventSetup | None, **extra: str) -> str:
    params = {"month": f"{month:%Y-%m}", **({"setup": str(setup.pk)} if setup else {}), **extra}
    return "?" + urlencode(params)


@staff_member_required
def event_report_view(request: HttpRequest) -> HttpResponse:
    """Tickets, revenue and refunds of one month's events, per date and per template."""
    if not request.user.has_perm("events.view_ticketsale"):
        raise PermissionDenied
    setup, setup_error = _setup(request.GET.get("setup"))
    tz = _zone(setup)
    month, month_error = _month(request.GET.get("month"), tz)
    report = event_report(month, tz, setup)
    kind = request.GET.get("format", "")
    if kind in FORMATS:
        return _download(report, kind)
    context = {
        **admin.site.each_context(request), "title": "Отчёт по мероприятиям", "report": report,
        "chart": chart_bars(report), "errors": [e for e in (month_error, setup_error) if e],
        "setups": EventSetup.objects.select_related("crm", "site").order_by("pk"), "setup": setup,
        "previous_url": _query(_shift(month, -1), setup), "next_url": _query(_shift(month, 1), setup),
        "xlsx_url": _query(month, setup, format="xlsx"), "csv_url": _query(month, setup, format="csv"),
    }
    return TemplateResponse(request, "admin/events/report.html", context)
