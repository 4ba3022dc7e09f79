"""Filters for message templates (loaded into the mailings template engine by default)."""

from __future__ import annotations

from typing import Any

from django import template

from mailings.services.texts import number_text, ru_plural

register = template.Library()


@register.filter
def plural(value: Any, forms: str) -> str:
    """``{{ n|plural:"балл,балла,баллов" }}`` → «21 балл», «3 балла», «5 баллов»."""
    parts = [p.strip() for p in str(forms).split(",")]
    if len(parts) != 3 or value in (None, ""):
        return str(value if value is not None else "")
    try:
        return f"{number_text(value)} {ru_plural(value, *parts)}"
    except (ArithmeticError, ValueError, TypeError):
        return str(value)
