"""Message texts: operators' templates (Django template language, no HTML escaping — these
are plain texts) with Russian plural forms for numbers."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Template, TemplateSyntaxError


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(builtins=["mailings.templatetags.mailing_text"], autoescape=False, string_if_invalid="")


def ru_plural(number: Decimal | int | float, one: str, few: str, many: str) -> str:
    """The form of the noun after ``number``: 1 балл, 3 балла, 5 баллов, 11 баллов, 21 балл;
    a fraction takes the genitive singular (2,5 балла)."""
    value = Decimal(str(number))
    if value != value.to_integral_value():
        return few
    n = abs(int(value))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def number_text(number: Decimal | int | float) -> str:
    """12 / 12,5 — as people write numbers in Russian."""
    value = Decimal(str(number))
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}".replace(".", ",")


@lru_cache(maxsize=256)
def compiled(source: str) -> Template:
    return _engine().from_string(source)


def template_check(source: str) -> None:
    """A readable admin error for a template that would not render."""
    try:
        compiled(source)
    except TemplateSyntaxError as exc:
        raise ValidationError(f"Ошибка в шаблоне: {exc}") from exc


def text_render(source: str, context: dict[str, Any]) -> str:
    return compiled(source).render(Context(context, autoescape=False)).strip()
