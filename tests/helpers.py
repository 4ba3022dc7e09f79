"""Small helpers shared by tests."""

from __future__ import annotations

from hub.services.outbox import outbox_drain


def drain_outbox() -> int:
    """Drain until nothing is due; returns how many rows were sent."""
    sent = 0
    while (report := outbox_drain()).total:
        sent += report.sent
    return sent
