"""Levels (being written)."""

from __future__ import annotations

from typing import Any


def on_receipt_changed(sender: Any, receipt: Any, **kwargs: Any) -> None:
    return None


def tiers_daily() -> int:
    return 0
