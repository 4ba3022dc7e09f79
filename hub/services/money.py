"""Money is Decimal with 2 places; some sources send kopecks — convert at the edge."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError

CENT = Decimal("0.01")


def money(value: Decimal | str | int | float | None) -> Decimal:
    if value is None or value == "":
        return Decimal("0.00")
    try:
        amount = Decimal(str(value))
        if not amount.is_finite():  # "nan", "inf" parse as Decimals but are no amount
            raise InvalidOperation
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValidationError(f"Not an amount of money: {value!r}") from exc


def money_from_kopecks(kopecks: int | str | None) -> Decimal:
    if kopecks is None or kopecks == "":
        return Decimal("0.00")
    try:
        return (Decimal(int(kopecks)) / 100).quantize(CENT)
    except (ValueError, InvalidOperation) as exc:
        raise ValidationError(f"Not an amount in kopecks: {kopecks!r}") from exc
