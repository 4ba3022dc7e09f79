"""The monthly report's bar chart: revenue and refunds per event date, on the shared grouped
bar chart (hub.reports), drawn as inline SVG by the page."""

from __future__ import annotations

from events.report import Report
from hub.reports import BarSpec, Chart, GroupSpec, bar_chart, rubles


def chart_bars(report: Report, width: int = 960, height: int = 320) -> Chart | None:
    """None when there is nothing to draw; many events widen the picture."""
    groups = []
    for row in report.rows:
        when = f"{row.starts_at:%d.%m.%Y %H:%M}" if row.starts_at else ""
        groups.append(GroupSpec(
            label=f"{row.starts_at:%d.%m %H:%M}" if row.starts_at else "", sublabel=row.title,
            bars=(BarSpec("revenue", row.revenue, f"{when} {row.title}: выручка {rubles(row.revenue)} ₽"),
                  BarSpec("refunds", row.refunds, f"{when} {row.title}: возвраты {rubles(row.refunds)} ₽"))))
    return bar_chart(groups, width, height)
