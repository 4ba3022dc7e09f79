"""An uploaded table (CSV in any usual delimiter and encoding, or XLSX) as rows of cells.

Every way a file can be wrong ends as a ``ValidationError`` with a Russian sentence for the
form: operators upload whatever Excel or 1C saved, and a bad file must never be a 500.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError

HeaderScore = Callable[[list[str]], int]
MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 100
#: What an XLSX may unpack to: openpyxl reads its shared strings whole, so a small "zip bomb"
#: upload could otherwise take a worker's memory. Real workbooks of 5,000 rows are far below.
MAX_UNPACKED = 200 * 1024 * 1024
DELIMITERS = (";", ",", "\t")
TEXT_SUFFIXES = {"", ".csv", ".txt", ".tsv"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # .xls and other old Office files


def max_bytes() -> int:
    return int(getattr(settings, "HUB_IMPORT_MAX_BYTES", MAX_BYTES))


def max_rows() -> int:
    return int(getattr(settings, "HUB_IMPORT_MAX_ROWS", MAX_ROWS))


@dataclass(frozen=True)
class RawRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    cells: tuple[object, ...]


@dataclass(frozen=True)
class RawTable:
    header: tuple[str, ...]
    rows: tuple[RawRow, ...]
    kind: str  # "csv" or "xlsx"


def size_check(size: int) -> None:
    if size <= 0:
        raise ValidationError("Файл пустой.")
    limit = max_bytes()
    if size > limit:
        raise ValidationError(f"Файл больше {limit // (1024 * 1024)} МБ ({size / 1024 / 1024:.1f} МБ). "
                              "Разделите его на части.")


def table_read(name: str, data: bytes, *, header_score: HeaderScore | None = None) -> RawTable:
    """The first sheet (XLSX) or the text (CSV) as a header and non-blank rows.

    ``header_score(cells) -> int`` says how many cells of a candidate header row are known
    columns; it picks the CSV delimiter (a header split on the right one matches best).
    """
    size_check(len(data))
    suffix = PurePath(name or "").suffix.lower()
    if data.startswith(ZIP_MAGIC):
        kind, rows = "xlsx", _xlsx_rows(data)
    elif data.startswith(OLE_MAGIC) or suffix == ".xls":
        raise ValidationError("Старый формат Excel (XLS) не поддерживается: сохраните файл как XLSX или CSV.")
    elif suffix == ".xlsx":
        raise ValidationError("Файл повреждён: это не книга Excel (XLSX).")
    elif suffix not in TEXT_SUFFIXES:
        raise ValidationError(f"Нужен файл CSV или XLSX, а не «{suffix}».")
    else:
        kind, rows = "csv", _csv_rows(_decode(data), header_score)
    return _table(rows, kind)


def _table(rows: Iterable[tuple[int, list[object]]], kind: str) -> RawTable:
    header: tuple[str, ...] | None = None
    body: list[RawRow] = []
    limit = max_rows()
    for number, cells in rows:
        while cells and _blank(cells[-1]):
            cells = cells[:-1]  # openpyxl pads rows to the widest one
        if not cells:
            continue
        if header is None:
            header = tuple("" if c is None else str(c).strip() for c in cells)
            continue
        if len(body) >= limit:
            raise ValidationError(f"В файле больше {limit} строк с данными. Разделите его на части "
                                  f"не больше {limit} строк.")
        body.append(RawRow(number, tuple(cells)))
    if header is None:
        raise ValidationError("В файле нет ни заголовка, ни данных.")
    if not body:
        raise ValidationError("В файле только заголовок, строк с данными нет.")
    return RawTable(header, tuple(body), kind)


def _blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


# --- CSV ---------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), else Windows-1251."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1251")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise ValidationError("Файл не похож на таблицу CSV (двоичные данные или неизвестная кодировка). "
                          "Сохраните его как CSV в UTF-8 или как XLSX.")


def _csv_rows(text: str, header_score: HeaderScore | None) -> list[tuple[int, list[object]]]:
    delimiter = _delimiter(text, header_score)
    rows: list[tuple[int, list[object]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    filled, limit = 0, max_rows() + 2  # the header and one row too many are enough to tell
    try:
        for index, cells in enumerate(reader, start=1):
            rows.append((index, list(cells[:MAX_COLUMNS])))
            filled += any(c.strip() for c in cells)
            if filled > limit:
                break
    except csv.Error as exc:
        raise ValidationError(f"Файл CSV не читается (строка {reader.line_num}): {exc}.") from exc
    return rows


def _delimiter(text: str, header_score: HeaderScore | None) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")

    def rank(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([first], delimiter=delimiter), [])
        return (header_score(cells) if header_score else 0, len(cells))

    return max(DELIMITERS, key=rank)


# --- XLSX --------------------------------------------------------------------------------


def _xlsx_rows(data: bytes) -> list[tuple[int, list[object]]]:
    from openpyxl import load_workbook

    # openpyxl raises many kinds of errors on a damaged or foreign zip (KeyError for a
    # missing part, ValueError, XML errors…); for an upload they all mean one thing.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(item.file_size for item in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ValidationError("Файл повреждён: архив XLSX не читается.") from exc
    if unpacked > MAX_UNPACKED:
        raise ValidationError(f"Книга Excel распаковывается в {unpacked // 2**20} МБ — больше "
                              f"{MAX_UNPACKED // 2**20} МБ. Сохраните только нужный лист или выгрузите CSV.")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except zipfile.BadZipFile as exc:
        raise ValidationError("Файл повреждён: архив XLSX не читается.") from exc
    except Exception as exc:  # see above
        raise ValidationError("Файл не является книгой Excel (XLSX) или повреждён.") from exc
    rows: list[tuple[int, list[object]]] = []
    limit = max_rows() + 2
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise ValidationError("В книге Excel нет ни одного листа.")
        filled = 0
        for index, cells in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
            values = list(cells)
            rows.append((index, values))
            if not all(_blank(c) for c in values):
                filled += 1
                if filled > limit:
                    break
    except ValidationError:
        raise
    except Exception as exc:  # a damaged sheet part fails only when read
        raise ValidationError("Лист книги Excel повреждён и не читается.") from exc
    finally:
        book.close()
    return rows
