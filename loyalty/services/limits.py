"""Purchase limits (being written)."""

from __future__ import annotations

from loyalty.services.context import ReceiptContext


def limits_check(ctx: ReceiptContext) -> None:
    raise NotImplementedError
