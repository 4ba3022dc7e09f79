"""The operators' dashboard on the admin index: ``{% operator_dashboard as dash %}`` and the
``ago`` filter ("3 мин назад")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html

from hub.dashboard import Dashboard, Tally, dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def operator_dashboard(context: dict[str, Any]) -> Dashboard | None:
    """The dashboard for users who may see connections; None for the others (they get the
    plain app list)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("hub.view_connection"):
        return None
    return dashboard()


@register.filter
def ago(value: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """How long ago, as an operator says it: "только что", "3 мин назад", "5 ч назад"."""
    if value is None:
        return "никогда"
    seconds = ((now or timezone.now()) - value).total_seconds()
    if seconds < 60:
        return "только что"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} мин назад"
    if minutes < 48 * 60:
        return f"{minutes // 60} ч назад"
    return f"{minutes // 1440} дн назад"


@register.simple_tag
def tally(value: Tally, allowed: bool, name: str, pk: int) -> str:
    """A dashboard number; a link to the admin list of exactly those rows when there are any
    and the user may open it. ``id`` is ``dash-<name>-<connection pk>``."""
    element_id = f"dash-{name}-{pk}"
    if value.count and allowed:
        return format_html('<a id="{}" href="{}">{}</a>', element_id, value.url, value.count)
    return format_html('<span id="{}">{}</span>', element_id, value.count)
