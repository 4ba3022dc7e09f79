"""The monthly report as files: CSV for any tool, XLSX for Excel users."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from events.report import DASH, NO_EVENT, Report, Sums
from hub.reports import csv_table

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


def report_csv(report: Report) -> bytes:
    """UTF-8 with a BOM and ``;`` so Russian Excel opens it as a table; dot decimals."""
    return csv_table(HEADER, (cells for _kind, cells in report_lines(report)))


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
