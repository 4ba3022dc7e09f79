"""The base of an external bonus program in tests: its emulator on a real port, a hub
connection to it, the hub's program pointed at it, and the knobs a venue's cashier would use.
Each program's side lives beside its connector's tests (``tests/connectors/<system>/side.py``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from connectors.base.emulator import RunningEmulator
from hub.models import Connection
from loyalty.models import Program
from loyalty.services.ledger import program_default


class BonusSide:
    """What a test needs to know of one program; subclasses speak to its emulator."""

    system = ""
    webhooks = False  # the program tells the hub about changes made elsewhere
    can_register = True  # a partner may register clients

    def __init__(self, running: RunningEmulator) -> None:
        self.emulator = running
        self.url = running.url
        self.connection = self.connect()
        self.program: Program = program_default()
        self.program.connection = self.connection
        self.program.save()

    def connect(self) -> Connection:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_emulator/state", timeout=5).json()

    def join(self, phone: str, points: Decimal | int = 0) -> str:
        """A client registers in the program at the venue; returns their id there."""
        raise NotImplementedError

    def operate(self, phone: str, points: Decimal | int, comment: str = "Касса") -> None:
        raise NotImplementedError

    def balance(self, phone: str) -> Decimal:
        raise NotImplementedError

    def purchases(self) -> int:
        raise NotImplementedError

    def adjust_path(self, client_id: str) -> str:
        """The path of a manual grant, to inject faults into."""
        raise NotImplementedError

    def hook_to(self, live_server: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults",
                      json={"webhook_url": f"{live_server.url}{self.connection.webhook_path}"}, timeout=5)

    def fault(self, **spec: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()
