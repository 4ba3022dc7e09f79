"""Certificates (being written)."""

from __future__ import annotations

from typing import Any

from loyalty.services.context import ReceiptContext


def certificates_apply(ctx: ReceiptContext, codes: list[str], *, lock: bool = False) -> None:
    raise NotImplementedError


def certificates_record(ctx: ReceiptContext, receipt: Any) -> None:
    raise NotImplementedError


def certificates_release(receipt: Any) -> None:
    raise NotImplementedError
