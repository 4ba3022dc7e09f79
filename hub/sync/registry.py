"""Connectors register here at start-up; the engine finds them by system name.

The hub never imports a connector: each connector app calls ``register`` in its
``AppConfig.ready``. Objects follow ``connectors.base.connector.Connector``.
"""

from __future__ import annotations

from typing import Any

_connectors: dict[str, Any] = {}


def register(connector: Any) -> None:
    _connectors[connector.system] = connector


def get(system: str) -> Any | None:
    return _connectors.get(system)


def systems() -> list[tuple[str, str]]:
    return sorted((c.system, str(c.title)) for c in _connectors.values())


def subscribers(action: str) -> set[str]:
    """Systems whose connector accepts this outbox action."""
    return {s for s, c in _connectors.items() if action in c.subscribes}


def systems_for_channel(channel: str) -> list[str]:
    """Systems whose connector sends messages over this mailings channel (sms, whatsapp…)."""
    return sorted(s for s, c in _connectors.items() if getattr(c, "channel", "") == channel)
