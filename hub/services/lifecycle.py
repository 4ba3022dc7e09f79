"""Lifecycle stages (being written)."""

from __future__ import annotations


def lifecycle_daily() -> int:
    return 0
