"""The audit log: the latest recorded changes of every model with a history, in one list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.apps import apps
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
    One query per tracked model (a handful), each capped at ``limit``; nothing per row."""
    rows: list[tuple[type[Model], HistoricalChanges]] = []
    for model in tracked_models():
        meta = model._meta
        if label and meta.label_lower != label:
            continue
        if not user.has_perm(f"{meta.app_label}.view_{meta.model_name}"):
            continue
        history = model.history.model.objects.select_related("history_user").order_by("-history_date", "-history_id")
        if actor_id is not None:
            history = history.filter(history_user_id=actor_id)
        rows.extend((model, row) for row in history[:limit])
    rows.sort(key=lambda pair: (pair[1].history_date, pair[1].history_id), reverse=True)
    return [_change(model, row) for model, row in rows[:limit]]


def audit_actors(models: list[type[Model]]) -> set[int]:
    """Who changed rows of these models: the person filter offers only them, not every staff
    account (a manager does not get the list of administrators)."""
    ids: set[int] = set()
    for model in models:
        ids.update(model.history.model.objects.exclude(history_user=None).values_list("history_user_id", flat=True)
                   .distinct())
    return ids


def _title(row: HistoricalChanges, pk: int) -> str:
    """From the version's own columns: a row's __str__ may read relations or the live row."""
    if hasattr(row, "first_name"):
        return " ".join(p for p in (row.last_name, row.first_name, row.middle_name) if p) or f"#{pk}"
    return getattr(row, "name", "") or f"№{pk}"


def _change(model: type[Model], row: HistoricalChanges) -> Change:
    meta = model._meta
    pk = getattr(row, meta.pk.attname)
    return Change(when=row.history_date, model=str(meta.verbose_name), label=meta.label_lower, object_id=pk,
                  title=_title(row, pk),
                  kind=KINDS.get(row.history_type, row.history_type),
                  user=row.history_user.get_username() if row.history_user else "система",
                  reason=row.history_change_reason or "",
                  url=reverse(f"admin:{meta.app_label}_{meta.model_name}_history", args=[pk]))
