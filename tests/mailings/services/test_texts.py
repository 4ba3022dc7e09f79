"""Message texts: variables, Russian plural forms, readable errors in templates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from mailings.services.texts import ru_plural, template_check, text_render

FORMS = ("балл", "балла", "баллов")


@pytest.mark.parametrize(("number", "form"), [
    (0, "баллов"), (1, "балл"), (2, "балла"), (4, "балла"), (5, "баллов"), (11, "баллов"), (12, "баллов"),
    (14, "баллов"), (21, "балл"), (22, "балла"), (101, "балл"), (111, "баллов"), (1000, "баллов"),
    (Decimal("2.5"), "балла"), (Decimal("5.00"), "баллов"), (-1, "балл"),
])
def test_russian_plural_forms(number, form):
    assert ru_plural(number, *FORMS) == form


def test_templates_render_variables_and_plurals_without_html_escaping():
    text = text_render('{{ name }}, у вас {{ n|plural:"балл,балла,баллов" }} & скидка "5%"',
                       {"name": "Анна <VIP>", "n": Decimal("21.00")})
    assert text == 'Анна <VIP>, у вас 21 балл & скидка "5%"'
    assert text_render("{{ missing }}Привет", {}) == "Привет"


def test_a_broken_template_is_a_readable_error():
    with pytest.raises(ValidationError, match="Ошибка в шаблоне"):
        template_check("{% if %}")
