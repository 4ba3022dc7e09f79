"""Promo codes (being written)."""

from __future__ import annotations

from typing import Any

from loyalty.services.context import ReceiptContext


def promos_apply(ctx: ReceiptContext, codes: list[str], *, lock: bool = False) -> None:
    raise NotImplementedError


def promos_record(ctx: ReceiptContext, receipt: Any) -> None:
    raise NotImplementedError


def promos_release(receipt: Any) -> None:
    raise NotImplementedError
