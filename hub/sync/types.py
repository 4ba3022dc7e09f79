"""Values exchanged between the sync engine and connectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PushResult:
    ok: bool
    external_id: str = ""
    fingerprint: str = ""
    error: str = ""
    retryable: bool = True
    retry_after: float | None = None
    rate_limited: bool = False  # the provider said "slow down": not the row's fault, not an attempt


@dataclass
class PullReport:
    counts: dict[str, int] = field(default_factory=dict)
    done: bool = True

    def add(self, entity: str, n: int = 1) -> None:
        self.counts[entity] = self.counts.get(entity, 0) + n


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


@dataclass(frozen=True)
class InboundEvent:
    event_key: str
    kind: str
    payload: dict[str, Any]


@dataclass
class WebhookParse:
    """What a connector made of a request: events to store, and what to answer."""

    events: list[InboundEvent] = field(default_factory=list)
    response_body: Any = None  # dict → JSON, str → text/plain
    response_status: int = 200


# progress(entity, done, total_or_None)
Progress = Callable[[str, int, int | None], None]
