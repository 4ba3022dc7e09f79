"""Files as operators send them: CSV in various delimiters and encodings, XLSX with typed cells."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook, load_workbook


def csv_bytes(rows: Sequence[Sequence[object]], delimiter: str = ";", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: Sequence[Sequence[object]], number_formats: dict[int, str] | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    for cells in rows:
        sheet.append(list(cells))
    for column, number_format in (number_formats or {}).items():
        for row in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            row[0].number_format = number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_rows(data: bytes) -> list[tuple[object, ...]]:
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
