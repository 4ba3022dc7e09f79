"""A report's table, described once: the page shows it and the CSV and XLSX files write the
same cells (through hub.reports, so a name never becomes a spreadsheet formula)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from hub.reports import csv_table, rubles, xlsx_cell

TEXT, INT, UNITS, MONEY, POINTS, PERCENT, DATE, DATETIME = (
    "text", "int", "units", "money", "points", "percent", "date", "datetime")
NUMERIC = (INT, UNITS, MONEY, POINTS, PERCENT)
XLSX_FORMATS = {INT: "0", UNITS: "#,##0.###", MONEY: "#,##0.00", POINTS: "#,##0.00", PERCENT: "0.0",
                DATE: "dd.mm.yyyy", DATETIME: "dd.mm.yyyy hh:mm"}
WIDTHS = {TEXT: 32, DATE: 12, DATETIME: 17}
DASH = "—"


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = TEXT


@dataclass(frozen=True)
class Row:
    cells: tuple[object, ...]
    kind: str = ""  # "" | "total" | "other" | "group": the row's CSS class; totals are bold in XLSX
    link: str = ""  # the admin page of the row's object, on the cell ``link_at`` (the page only)
    link_at: int = 0


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool
    link: str = ""


@dataclass
class Table:
    columns: tuple[Column, ...]
    rows: list[Row] = field(default_factory=list)
    note: str = ""  # under the table in the XLSX file: the time zone, what the numbers mean

    @property
    def header(self) -> list[str]:
        return [column.title for column in self.columns]

    def html_rows(self) -> Iterator[tuple[Row, list[Cell]]]:
        """Each row with its cells as the page prints them."""
        for row in self.rows:
            cells = [Cell(display(value, column.kind), column.kind in NUMERIC, row.link if i == row.link_at else "")
                     for i, (column, value) in enumerate(zip(self.columns, row.cells, strict=True))]
            yield row, cells


def units(value: Decimal | int | None) -> Decimal | int:
    """A quantity summed from 3-place decimals: whole numbers as int, else up to 3 places."""
    if value is None:
        return 0
    amount = Decimal(str(value)).quantize(Decimal("0.001"))
    return int(amount) if amount == amount.to_integral_value() else amount.normalize()


def display(value: object, kind: str) -> str:
    """A cell as a Russian reader writes it; an empty cell is a dash."""
    if value is None or value == "":
        return DASH if kind != TEXT else ""
    if kind in (MONEY, POINTS):
        return rubles(value)  # type: ignore[arg-type]
    if kind == PERCENT:
        return f"{value:.1f}".replace(".", ",") + " %"
    if kind == UNITS and isinstance(value, Decimal):
        return f"{value:,}".replace(",", "\u00a0").replace(".", ",")
    if kind in (INT, UNITS):
        return f"{value:,}".replace(",", "\u00a0")
    if kind == DATETIME and isinstance(value, dt.datetime):
        return f"{value:%d.%m.%Y %H:%M}"
    if kind == DATE and isinstance(value, dt.date):
        return f"{value:%d.%m.%Y}"
    return str(value)


def _csv_value(value: object) -> object:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"{value:%d.%m.%Y}"
    return value


def table_csv(table: Table) -> bytes:
    """UTF-8 with a BOM and ``;`` so Russian Excel opens it; dot decimals, dd.mm.yyyy dates."""
    return csv_table(table.header, ([_csv_value(v) for v in row.cells] for row in table.rows))


def table_xlsx(table: Table, sheet_title: str) -> bytes:
    """One sheet: the header (bold, frozen), the rows (totals bold), the note two rows below."""
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title[:31]
    for column, title in enumerate(table.header, start=1):
        xlsx_cell(sheet, 1, column, title, bold=True)
    number = 1
    for number, row in enumerate(table.rows, start=2):
        for column, (spec, value) in enumerate(zip(table.columns, row.cells, strict=True), start=1):
            xlsx_cell(sheet, number, column, value, number_format=XLSX_FORMATS.get(spec.kind, ""),
                      bold=row.kind == "total")
    if table.note:
        xlsx_cell(sheet, number + 2, 1, table.note)
    for column, spec in enumerate(table.columns, start=1):
        width = max(WIDTHS.get(spec.kind, 12), min(len(spec.title) + 2, 24))
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
