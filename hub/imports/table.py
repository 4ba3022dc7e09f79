"""What every imported table shares: columns found by tolerant headers, cell readers that
explain what is wrong in Russian, the per-row plan, and the report (page and CSV)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.utils import timezone
from openpyxl.utils.datetime import from_excel

from hub.imports.files import RawRow, RawTable, table_read
from hub.reports import FORMULA_STARTS, csv_table
from hub.services.normalize import date_parse

CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"
STATUS_LABELS = {CREATED: "создан", UPDATED: "обновлён", UNCHANGED: "без изменений", ERROR: "ошибка"}
LIST_SPLIT = re.compile(r"[,;\n]+")
ROW_ID = re.compile(r"[0-9]{1,18}")
YES = {"1", "да", "д", "yes", "y", "true", "истина", "+", "активен", "active"}
NO = {"0", "нет", "н", "no", "n", "false", "ложь", "-", "неактивен", "inactive"}


def header_key(text: object) -> str:
    """'E-mail ', 'e_mail', 'EMAIL' → 'email'; 'Дата  рождения' → 'датарождения'."""
    return re.sub(r"[\W_]+", "", str(text or "").lower().replace("ё", "е"))


@dataclass(frozen=True)
class Column:
    name: str  # the model's (or our) field name, accepted as a header too
    header: str  # the Russian header written on export
    aliases: tuple[str, ...] = ()
    readonly: bool = False  # exported for reading, ignored on import
    width: int = 14  # XLSX column width
    number_format: str = ""  # XLSX number format of exported values

    def keys(self) -> set[str]:
        return {header_key(t) for t in (self.name, self.header, *self.aliases)}


@dataclass
class Row:
    """One data row by column name; blank cells are absent."""

    number: int
    values: dict[str, object]

    def text(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # Excel keeps phones and codes typed as numbers as floats
        text = str(value).strip()
        if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
            text = text[1:]  # our own CSV export guards "+7…" and "=…" against spreadsheets
        return text

    def has(self, name: str) -> bool:
        return bool(self.text(name))


@dataclass
class Planned:
    """What a row will do (a check) or did (an apply)."""

    row: int
    status: str = UNCHANGED
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    target: int | None = None  # the existing object's id
    payload: Any = None  # what apply needs; never stored

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def fail(self, message: str) -> None:
        self.errors.append(message)
        self.status = ERROR


@dataclass
class Report:
    table: str
    applied: bool
    rows: list[Planned]
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUS_LABELS}
        for row in self.rows:
            counts[row.status] += 1
        return {**counts, "total": len(self.rows)}

    @property
    def writable(self) -> int:
        return sum(1 for row in self.rows if row.status in (CREATED, UPDATED))

    def to_json(self) -> dict[str, Any]:
        rows = [{k: v for k, v in asdict(r).items() if k != "payload"} for r in self.rows]
        return {"table": self.table, "applied": self.applied, "rows": rows, "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(table=data["table"], applied=data["applied"], warnings=data.get("warnings", []),
                   rows=[Planned(**row) for row in data["rows"]])

    def csv(self) -> bytes:
        return csv_table(["Строка", "Статус", "Изменения", "Ошибки"],
                         ([r.row, r.status_label, ", ".join(r.changes), "; ".join(r.errors)] for r in self.rows))


class TableSpec:
    """One importable/exportable table. Subclasses give the columns and the row rules."""

    key: ClassVar[str]
    title: ClassVar[str]  # "контакты"
    model: ClassVar[type[models.Model]]
    columns: ClassVar[tuple[Column, ...]]
    required_any: ClassVar[tuple[str, ...]]  # a file must have at least one of these columns
    options: dict[str, Any]

    def __init__(self, **options: Any) -> None:
        self.options = options

    # --- export -----------------------------------------------------------------------

    def export_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        return queryset

    def export_row(self, obj: Any) -> list[object]:
        raise NotImplementedError

    # --- import -----------------------------------------------------------------------

    def plan_row(self, row: Row, seen: dict[tuple[str, str], int]) -> Planned:
        """Validate and compare with the database (reads only); ``seen`` maps keys of
        earlier rows of the file to their row numbers, to catch duplicates. (A table may
        override ``plan`` instead, to read the database for all rows at once.)"""
        raise NotImplementedError

    def apply_row(self, planned: Planned) -> None:
        raise NotImplementedError

    # --- shared -----------------------------------------------------------------------

    def column_index(self) -> dict[str, Column]:
        return {key: column for column in self.columns for key in column.keys()}

    def header_score(self, cells: list[str]) -> int:
        index = self.column_index()
        return sum(1 for cell in cells if header_key(cell) in index)

    def read(self, name: str, data: bytes) -> tuple[list[Row], list[str]]:
        """The file's rows by column name, and warnings about ignored columns."""
        table = table_read(name, data, header_score=self.header_score)
        return self._rows(table)

    def _rows(self, table: RawTable) -> tuple[list[Row], list[str]]:
        index = self.column_index()
        positions: dict[int, Column] = {}
        found: dict[str, str] = {}
        unknown: list[str] = []
        for position, title in enumerate(table.header):
            column = index.get(header_key(title))
            if column is None:
                if title:
                    unknown.append(title)
                continue
            if column.name in found:
                raise ValidationError(f"Столбец «{column.header}» встречается дважды: «{found[column.name]}» "
                                      f"и «{title}».")
            found[column.name] = title
            if not column.readonly:
                positions[position] = column
        if not found:
            expected = ", ".join(f"«{c.header}»" for c in self.columns if not c.readonly)
            raise ValidationError("Не найдено ни одного известного столбца. Первая строка файла — заголовок "
                                  f"со столбцами: {expected}.")
        if not any(name in found for name in self.required_any):
            names = " или ".join(f"«{c.header}»" for c in self.columns if c.name in self.required_any)
            raise ValidationError(f"В файле нет столбца {names}: по нему находятся {self.title}.")
        warnings = [f"Столбцы не распознаны и пропущены: {', '.join(unknown)}."] if unknown else []
        rows = []
        for raw in table.rows:
            values = {column.name: _cell(raw, position) for position, column in positions.items()}
            rows.append(Row(raw.number, {k: v for k, v in values.items() if not _blank(v)}))
        return rows, warnings

    def plan(self, rows: Sequence[Row]) -> list[Planned]:
        seen: dict[tuple[str, str], int] = {}
        return [self.plan_row(row, seen) for row in rows]

    def check(self, name: str, data: bytes) -> Report:
        """The dry run: what each row would do. Writes nothing."""
        rows, warnings = self.read(name, data)
        return Report(self.key, applied=False, rows=self.plan(rows), warnings=warnings)

    def apply(self, name: str, data: bytes) -> Report:
        """Plan again against the database as it is now, then write the valid changed rows,
        each in its own transaction (one bad row does not undo the others)."""
        rows, warnings = self.read(name, data)
        planned = self.plan(rows)
        for item in planned:
            if item.status not in (CREATED, UPDATED):
                continue
            try:
                with transaction.atomic():
                    self.apply_row(item)
            except ValidationError as exc:
                item.changes = []
                item.fail("Не записано: " + " ".join(exc.messages))
            except DatabaseError as exc:
                item.changes = []
                item.fail(f"Не записано: ошибка базы данных ({type(exc).__name__}); повторите импорт.")
        return Report(self.key, applied=True, rows=planned, warnings=warnings)


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """Slices for ``__in`` lookups (SQLite caps the number of query parameters)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _cell(raw: RawRow, position: int) -> object:
    value = raw.cells[position] if position < len(raw.cells) else None
    return value.strip() if isinstance(value, str) else value


def _blank(value: object) -> bool:
    return value is None or value == ""


# --- cell readers: a value or a ValidationError whose message names the column -----------


def read_text(row: Row, name: str, label: str, max_length: int) -> str:
    text = row.text(name)
    if len(text) > max_length:
        raise ValidationError(f"{label}: длиннее {max_length} символов.")
    return text


def read_list(row: Row, name: str) -> list[str]:
    return list(dict.fromkeys(p.strip() for p in LIST_SPLIT.split(row.text(name)) if p.strip()))


def read_date(row: Row, name: str, label: str) -> dt.date | None:
    """A real Excel date, an Excel day number, or text: DD.MM.YYYY, YYYY-MM-DD, DD/MM/YYYY."""
    value = row.values.get(name)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2_958_466:
        return from_excel(value).date()
    text = row.text(name)
    for pattern in ("%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            pass
    text = re.sub(r"^(\d)\.", r"0\1.", text)  # 1.05.1990
    text = re.sub(r"^(\d\d)\.(\d)\.", r"\1.0\2.", text)  # 01.5.1990
    try:
        return date_parse(text, name)
    except (ValidationError, OverflowError, OSError, ValueError):
        raise ValidationError(f"{label}: «{row.text(name)}» — не дата (нужно ДД.ММ.ГГГГ или ГГГГ-ММ-ДД).") from None


def read_decimal(row: Row, name: str, label: str) -> Decimal | None:
    from hub.services.money import money

    value = row.values.get(name)
    if value is None:
        return None
    if isinstance(value, float):
        value = round(value, 2)
    text = re.sub(r"[\s\u00a0₽]|руб\.?|р\.", "", str(value).strip().lower()).replace(",", ".")
    try:
        amount = money(text)
    except ValidationError:
        raise ValidationError(f"{label}: «{row.text(name)}» — не число.") from None
    if amount < 0:
        raise ValidationError(f"{label}: не может быть отрицательной.")
    return amount


def read_bool(row: Row, name: str, label: str) -> bool | None:
    value = row.values.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = header_key(row.text(name)) or row.text(name)
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValidationError(f"{label}: «{row.text(name)}» — нужно «да» или «нет».")


def is_row_id(text: str) -> bool:
    """A database id: ASCII digits that fit a bigint (``str.isdigit`` also takes "²")."""
    return bool(ROW_ID.fullmatch(text))


def read_int(row: Row, name: str, label: str) -> int | None:
    text = row.text(name)
    if not text:
        return None
    if not is_row_id(text):
        raise ValidationError(f"{label}: «{text[:40]}» — не номер.")
    return int(text)


def read_choice(row: Row, name: str, label: str, choices: dict[str, str], shown: Sequence[str]) -> str:
    """``choices`` maps header_key(any accepted spelling) → stored value; ``shown`` are the
    spellings the error message suggests."""
    text = row.text(name)
    if not text:
        return ""
    value = choices.get(header_key(text))
    if value is None:
        raise ValidationError(f"{label}: неизвестное значение «{text}» (можно: {', '.join(shown)}).")
    return value


def label_choices(choices: Sequence[tuple[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """A model's choices readable by code, Russian or English label (any case); and the
    Russian labels, for error messages and export."""
    from django.utils import translation

    readable: dict[str, str] = {}
    for value, label in choices:
        readable[header_key(value)] = value
        for language in ("en", "ru"):
            with translation.override(language):
                readable[header_key(str(label))] = value
    with translation.override("ru"):
        return readable, [str(label) for _, label in choices]


def collect(planned: Planned, read: Callable[[], Any]) -> Any:
    """Run one cell reader; a bad cell becomes the row's error and None."""
    try:
        return read()
    except ValidationError as exc:
        for message in exc.messages:
            planned.fail(message)
        return None


def local(value: dt.datetime | None) -> dt.datetime | None:
    return timezone.localtime(value) if value else None
