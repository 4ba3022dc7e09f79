"""The audit log: the latest recorded changes of every model with a history, in one list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.urls import reverse
from simple_history.models import HistoricalChanges

KINDS = {"+": "создание", "~": "изменение", "-": "удаление"}


@dataclass(frozen=True)
class Change:
    when: dt.datetime
    model: str  # verbose name
    label: str  # app_label.model_name of the tracked model
    object_id: int
    title: str
    kind: str
    user: str
    reason: str
    url: str  # the row's history page


def tracked_models() -> list[type[Model]]:
    """Models with a simple-history trail, in a stable order."""
    return sorted((m for m in apps.get_models() if hasattr(m, "history") and hasattr(m.history, "model")),
                  key=lambda m: m._meta.label)


def audit_log(user: Any, *, label: str = "", actor_id: int | None = None, limit: int = 200) -> list[Change]:
    """The ``limit`` newest changes the user may see (models they can view), newest first.
    One query per tracked model (a handful), each capped at ``limit``."""
    users = get_user_model()
    changes: list[Change] = []
    for model in tracked_models():
        meta = model._meta
        if label and meta.label_lower != label:
            continue
        if not user.has_perm(f"{meta.app_label}.view_{meta.model_name}"):
            continue
        rows = model.history.model.objects.select_related("history_user").order_by("-history_date", "-history_id")
        if actor_id is not None:
            rows = rows.filter(history_user_id=actor_id)
        for row in rows[:limit]:
            changes.append(_change(model, row, users))
    changes.sort(key=lambda c: c.when, reverse=True)
    return changes[:limit]


def _change(model: type[Model], row: HistoricalChanges, users: Any) -> Change:
    meta = model._meta
    pk = getattr(row, meta.pk.attname)
    return Change(when=row.history_date, model=str(meta.verbose_name), label=meta.label_lower, object_id=pk,
                  title=str(row.instance) if row.history_type != "-" else f"#{pk}",
                  kind=KINDS.get(row.history_type, row.history_type),
                  user=row.history_user.get_username() if row.history_user else "система",
                  reason=row.history_change_reason or "",
                  url=reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[pk]))
