"""Metrics hooks: every outbound HTTP call is reported to the registered callbacks.

Exporters (Prometheus, StatsD…) register a hook; by default calls are only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestMetric:
    system: str
    connection_id: int | None
    method: str
    path: str
    status: int | None  # None: no answer (timeout, connection error)
    elapsed_ms: float
    error: str = ""


Hook = Callable[[RequestMetric], None]
_hooks: list[Hook] = []


def add_hook(hook: Hook) -> None:
    _hooks.append(hook)


def remove_hook(hook: Hook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def emit(metric: RequestMetric) -> None:
    for hook in list(_hooks):
        try:
            hook(metric)
        except Exception:
            log.exception("metrics hook failed")
