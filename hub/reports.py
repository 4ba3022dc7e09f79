"""What every admin report shares: money as a Russian reader writes it, the geometry of a
server-drawn bar chart (the page draws it as inline SVG), and table files (CSV, XLSX) whose
text cells never become spreadsheet formulas (names come from operators and CRMs)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from openpyxl.styles import Font

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LEFT, RIGHT, TOP, BOTTOM = 80, 12, 12, 48
MIN_GROUP = 64


def rubles(value: Decimal | float) -> str:
    """12 345,00 — as a Russian reader writes money."""
    return f"{value:,.2f}".replace(",", "\u00a0").replace(".", ",")


def scale_top(largest: Decimal | float, whole: bool = False) -> int:
    """A round top of the axis (1, 2, 2.5 or 5 times a power of ten per quarter; ``whole``:
    every quarter a whole number, for axes that count things)."""
    quarter = max(float(largest) / 4, 1.0)
    power = 10 ** math.floor(math.log10(quarter))
    if whole and power < 10:  # small counts: the nearest whole step (3, 4, 6…), never 2.5
        return math.ceil(quarter) * 4
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= quarter)
    return math.ceil(step * 4)


def shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def safe_text(value: str) -> str:
    """A leading = + - @ must not become a spreadsheet formula when the file is opened."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return f"{value:%d.%m.%Y %H:%M}"
    if isinstance(value, str):
        return safe_text(value)
    return str(value)


def csv_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a BOM and ``;`` so Russian Excel opens it as a table; dot decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for cells in rows:
        writer.writerow([csv_cell(cell) for cell in cells])
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_cell(sheet, row: int, column: int, value: object, *, number_format: str = "",  # type: ignore[no-untyped-def]
              bold: bool = False) -> None:
    """One cell; text is always text (never a formula, whatever it starts with)."""
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)  # Excel has no time zones; a report names its own
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if number_format:
        cell.number_format = number_format
    if bold:
        cell.font = Font(bold=True)


# --- a grouped bar chart -------------------------------------------------------------------


@dataclass(frozen=True)
class BarSpec:
    kind: str  # the CSS class (and colour) of the bar
    value: Decimal
    title: str  # the tooltip


@dataclass(frozen=True)
class GroupSpec:
    label: str
    sublabel: str
    bars: tuple[BarSpec, ...]


@dataclass(frozen=True)
class Bar:
    kind: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class BarGroup:
    center: float
    label: str
    sublabel: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: float
    baseline: float
    tick_x: int  # right edge of the axis labels
    label_y: float  # first line under the bars
    sublabel_y: float  # second line under the bars
    groups: list[BarGroup]
    ticks: list[Tick]


def _group(spec: GroupSpec, index: int, group_width: float, plot_height: float, top: int) -> BarGroup:
    x0 = LEFT + index * group_width
    count = max(len(spec.bars), 1)
    gap = 0.04
    bar_width = group_width * (0.72 - gap * (count - 1)) / count
    bars = []
    for i, bar in enumerate(spec.bars):
        height = round(max(float(bar.value), 0.0) / top * plot_height, 2)
        bars.append(Bar(kind=bar.kind, x=round(x0 + group_width * 0.14 + i * (bar_width + group_width * gap), 2),
                        y=round(TOP + plot_height - height, 2), width=round(bar_width, 2), height=height,
                        title=bar.title))
    chars = int(group_width / 7)
    return BarGroup(center=round(x0 + group_width / 2, 2), label=shorten(spec.label, chars),
                    sublabel=shorten(spec.sublabel, chars), bars=tuple(bars))


def bar_chart(groups: Sequence[GroupSpec], width: int = 960, height: int = 320, *, whole: bool = False
              ) -> Chart | None:
    """Geometry of bars side by side per group, on a money axis (``whole``: a count axis, whole
    numbers); None when there is nothing to draw. Many groups widen the picture rather than
    squeeze the bars."""
    if not groups:
        return None
    width = max(width, LEFT + RIGHT + MIN_GROUP * len(groups))
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    top = scale_top(max((bar.value for group in groups for bar in group.bars), default=Decimal(0)), whole)
    ticks = [Tick(y=round(TOP + plot_height * (1 - i / 4), 2), label=rubles(top * i / 4).removesuffix(",00"))
             for i in range(5)]
    drawn = [_group(group, i, plot_width / len(groups), plot_height, top) for i, group in enumerate(groups)]
    return Chart(width=width, height=height, left=LEFT, right=width - RIGHT, baseline=TOP + plot_height,
                 tick_x=LEFT - 6, label_y=TOP + plot_height + 18, sublabel_y=TOP + plot_height + 32, groups=drawn,
                 ticks=ticks)
