"""``{% bar_chart_svg chart label colours svg_id %}``: the SVG of a hub.reports chart, one
markup for every page that draws one (reports, analytics, the dashboard)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template

from hub.reports import Chart

register = template.Library()


def _palette(colours: Mapping[str, str] | Iterable[Any] | str) -> dict[str, str]:
    """"in:#1565c0,out:#ef6c00", a mapping, or series with ``kind`` and ``colour``."""
    if isinstance(colours, str):
        return dict(pair.split(":", 1) for pair in colours.split(",") if ":" in pair)
    if isinstance(colours, Mapping):
        return dict(colours)
    return {item.kind: item.colour for item in colours}


@register.inclusion_tag("admin/includes/bar_chart.html")
def bar_chart_svg(chart: Chart, label: str, colours: Mapping[str, str] | Iterable[Any] | str = "",
                  svg_id: str = "") -> dict[str, Any]:
    palette = _palette(colours)
    groups = [(group, [(bar, palette.get(bar.kind, "")) for bar in group.bars]) for group in chart.groups]
    return {"chart": chart, "label": label, "svg_id": svg_id, "groups": groups}
