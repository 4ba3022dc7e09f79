"""A table's rows as a CSV or XLSX download, with the headers the import reads back."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from hub.imports.table import TableSpec
from hub.reports import csv_table, xlsx_cell

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CHUNK = 1000


def table_export(spec: TableSpec, queryset: QuerySet, fmt: str) -> HttpResponse:
    """The rows of ``queryset`` (as the table's own filter allows) as a file download."""
    rows = _rows(spec, queryset)
    content = _csv(spec, rows) if fmt == "csv" else _xlsx(spec, rows)
    response = HttpResponse(content, content_type=FORMATS[fmt])
    name = f"{spec.key}-{timezone.localtime():%Y%m%d-%H%M}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _rows(spec: TableSpec, queryset: QuerySet) -> Iterator[list[object]]:
    for obj in spec.export_queryset(queryset).iterator(chunk_size=CHUNK):
        yield spec.export_row(obj)


def _csv_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value  # csv_cell writes DD.MM.YYYY HH:MM (already local time)
    if isinstance(value, dt.date):
        return f"{value:%d.%m.%Y}"
    return value


def _csv(spec: TableSpec, rows: Iterator[list[object]]) -> bytes:
    return csv_table([c.header for c in spec.columns], ([_csv_value(v) for v in row] for row in rows))


def _xlsx(spec: TableSpec, rows: Iterator[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = spec.title.capitalize()[:31]
    for index, column in enumerate(spec.columns, start=1):
        xlsx_cell(sheet, 1, index, column.header, bold=True)
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for number, row in enumerate(rows, start=2):
        for index, (column, value) in enumerate(zip(spec.columns, row, strict=True), start=1):
            typed = isinstance(value, dt.date | Decimal)
            xlsx_cell(sheet, number, index, value, number_format=column.number_format if typed else "")
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
