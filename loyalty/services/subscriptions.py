"""Subscriptions (being written)."""

from __future__ import annotations

from typing import Any


def on_pass_recorded(sender: Any, pass_row: Any, **kwargs: Any) -> None:
    return None
