"""Earning rules, evaluated in order on a receipt (being written)."""

from __future__ import annotations

from loyalty.services.context import ReceiptContext


def rules_apply(ctx: ReceiptContext) -> None:
    raise NotImplementedError
