"""Certificates and subscriptions sold as products (being written)."""

from __future__ import annotations

from typing import Any


def on_purchase_recorded(sender: Any, purchase: Any, created: bool, **kwargs: Any) -> None:
    return None
