"""The pictures of the analytics pages: the shared grouped bar chart (hub.reports), with the
series named and coloured here so the page can print a legend and colour the bars by class."""

from __future__ import annotations

from dataclasses import dataclass

from hub.reports import Chart, GroupSpec, bar_chart

PALETTE = ("#1565c0", "#2e7d32", "#c62828", "#f9a825", "#6a1b9a", "#00838f", "#78909c", "#ef6c00")


@dataclass(frozen=True)
class Series:
    kind: str  # the CSS class of its bars (a BarSpec's kind)
    label: str
    colour: str


def series(*pairs: tuple[str, str]) -> tuple[Series, ...]:
    """(kind, label) pairs coloured in order from the palette."""
    return tuple(Series(kind, label, PALETTE[i % len(PALETTE)]) for i, (kind, label) in enumerate(pairs))


def chart_or_none(groups: list[GroupSpec], *, whole: bool = False) -> Chart | None:
    """No picture when every bar is zero: the page says "нет данных" instead of empty axes.
    ``whole``: the bars count things (clients, messages), the axis shows whole numbers."""
    if not any(bar.value for group in groups for bar in group.bars):
        return None
    return bar_chart(groups, whole=whole)
