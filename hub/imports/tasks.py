"""The background apply of a checked import (thin: a token in, one service call)."""

from __future__ import annotations

from celery import shared_task

from hub.imports.services import import_apply


@shared_task(name="hub.imports.apply", acks_late=True)
def import_apply_task(token: str) -> dict[str, int] | None:
    report = import_apply(token)
    return report.totals if report else None
