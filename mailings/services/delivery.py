"""Sending one message and what comes back: checked again at the moment of sending (consent,
opt-out, quiet hours), recorded when sent, failed or refused (then the campaign's next channel
is tried), delivery statuses from providers, and replies (STOP, NPS answers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.models import Connection
from mailings.ports import OutgoingMessage


@dataclass(frozen=True)
class Hold:
    """Not now: wait ``retry_after`` seconds (quiet hours), or never (None: not to be sent)."""

    reason: str
    retry_after: float | None = None


def message_prepare(message_id: int) -> OutgoingMessage | Hold:
    raise NotImplementedError


def message_sent(message_id: int, provider_id: str) -> None:
    raise NotImplementedError


def message_refused(message_id: int, reason: str) -> None:
    raise NotImplementedError


def message_failed(message_id: int, error: str, *, final: bool) -> None:
    raise NotImplementedError


def message_status_apply(connection: Connection | None, provider_id: str, status: str, error: str = "") -> Any:
    raise NotImplementedError


def message_incoming(connection: Connection | None, channel: str, *, address_kind: str, address: str, text: str,
                     data: str = "", provider_id: str = "") -> Any:
    raise NotImplementedError
