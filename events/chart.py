"""The monthly report's bar chart: geometry computed here, drawn as inline SVG by the page."""

from __future__ import annotations

from dataclasses import dataclass

from events.report import EventRow, Report
from hub.reports import rubles, scale_top, shorten

LEFT, RIGHT, TOP, BOTTOM = 80, 12, 12, 48
MIN_GROUP = 64


@dataclass(frozen=True)
class Bar:
    kind: str  # "revenue" | "refunds"
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class BarGroup:
    center: float
    date_label: str
    title_label: str
    bars: tuple[Bar, Bar]


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
    label_y: float  # date line under the bars
    title_y: float  # title line under the date
    groups: list[BarGroup]
    ticks: list[Tick]


def _group_of(row: EventRow, index: int, group_width: float, plot_height: float, top: int) -> BarGroup:
    x0 = LEFT + index * group_width
    bar_width = group_width * 0.34
    when = f"{row.starts_at:%d.%m.%Y %H:%M}" if row.starts_at else ""
    bars = []
    for offset, kind, value, word in ((0.14, "revenue", row.revenue, "выручка"),
                                      (0.52, "refunds", row.refunds, "возвраты")):
        height = round(float(value) / top * plot_height, 2)
        bars.append(Bar(kind=kind, x=round(x0 + group_width * offset, 2), y=round(TOP + plot_height - height, 2),
                        width=round(bar_width, 2), height=height,
                        title=f"{when} {row.title}: {word} {rubles(value)} ₽"))
    return BarGroup(center=round(x0 + group_width / 2, 2), date_label=f"{row.starts_at:%d.%m %H:%M}",
                    title_label=shorten(row.title, int(group_width / 7)), bars=(bars[0], bars[1]))


def chart_bars(report: Report, width: int = 960, height: int = 320) -> Chart | None:
    """Geometry of the revenue/refunds bar chart per event date; None when there is nothing to draw.
    Many events widen the picture rather than squeeze the bars."""
    rows = report.rows
    if not rows:
        return None
    width = max(width, LEFT + RIGHT + MIN_GROUP * len(rows))
    plot_width, plot_height = width - LEFT - RIGHT, height - TOP - BOTTOM
    top = scale_top(max(max(row.revenue, row.refunds) for row in rows))
    ticks = [Tick(y=round(TOP + plot_height * (1 - i / 4), 2), label=rubles(top * i / 4).removesuffix(",00"))
             for i in range(5)]
    groups = [_group_of(row, i, plot_width / len(rows), plot_height, top) for i, row in enumerate(rows)]
    return Chart(width=width, height=height, left=LEFT, right=width - RIGHT, baseline=TOP + plot_height,
                 tick_x=LEFT - 6, label_y=TOP + plot_height + 18, title_y=TOP + plot_height + 32, groups=groups,
                 ticks=ticks)
