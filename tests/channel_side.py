"""The base of a messaging provider in tests: its emulator on a real port, a hub connection
to it, and what a test reads or makes happen there (messages the provider holds, a delivery
report, a client's reply). Each provider's side lives beside its connector's tests
(``tests/connectors/<system>/side.py``)."""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.emulator import RunningEmulator
from hub.models import Connection


class ChannelSide:
    system = ""
    channel = ""  # mailings.models.Channel value
    statuses = True  # the provider reports delivery
    replies = True  # clients can write back through it
    buttons = False  # inline buttons (bots)

    def __init__(self, running: RunningEmulator) -> None:
        self.emulator = running
        self.url = running.url
        self.connection = self.connect()

    def connect(self) -> Connection:
        """A hub connection to the emulator: settings ``{"rate_limit": "1000/second", "max_attempts": 3}``."""
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_emulator/state", timeout=5).json()

    def hook_to(self, live_server: Any) -> None:
        """Point the emulator's callbacks at the hub's webhook of this connection."""
        requests.post(f"{self.url}/_emulator/faults",
                      json={"webhook_url": f"{live_server.url}{self.connection.webhook_path}"},
                      timeout=5).raise_for_status()

    def fault(self, **spec: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()

    def sent(self) -> list[dict[str, Any]]:
        """Messages the provider accepted, oldest first: ``{"id", "to", "text", "buttons"}``;
        ``to`` as the hub addressed it (E.164 phone, chat/peer id, e-mail); ``buttons`` a
        list of callback data strings (bots), else []."""
        raise NotImplementedError

    def deliver(self, provider_id: str, status: str = "delivered") -> int:
        """The provider reports ``status`` ("delivered" or "failed") of one message to the hub
        (through ``hook_to``'s URL); returns the hub's HTTP status."""
        raise NotImplementedError

    def reply(self, address: str, text: str) -> int:
        """The client at ``address`` (E.164 phone, Telegram/VK user id) writes to the business."""
        raise NotImplementedError

    def press(self, address: str, data: str) -> int:
        """The client presses an inline button carrying ``data`` (bots only)."""
        raise NotImplementedError
