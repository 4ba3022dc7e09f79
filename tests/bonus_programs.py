"""External bonus programs in tests: each program's emulator on a real port, a hub connection
to it, the hub's program pointed at it, and the emulator knobs a venue's cashier would use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import requests

from connectors.base.emulator import RunningEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
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


class SamosaleSide(BonusSide):
    system = "samosale"
    webhooks = True

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(name="SamoSale", system="samosale", base_url=f"{self.url}/api/v1",
                                          credentials={"api_key": creds["api_key"],
                                                       "webhook_secret": creds["webhook_secret"]},
                                          settings={"rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def _client(self, phone: str) -> dict[str, Any]:
        return next(c for c in self.state()["clients"] if c["phone"] == phone)

    def join(self, phone: str, points: Decimal | int = 0) -> str:
        answer = requests.post(f"{self.url}/api/v1/clients", json={"phone": phone}, timeout=5,
                               headers={"Authorization": f"Bearer {self.emulator.app.api_key}"})
        answer.raise_for_status()
        if points:
            self.operate(phone, points, "Стартовые баллы")
        return str(answer.json()["client"]["id"])

    def operate(self, phone: str, points: Decimal | int, comment: str = "Касса") -> None:
        requests.post(f"{self.url}/_emulator/operate", json={"phone": phone, "amount": str(points),
                                                             "comment": comment}, timeout=5).raise_for_status()

    def balance(self, phone: str) -> Decimal:
        return Decimal(self._client(phone)["balance"])

    def purchases(self) -> int:
        return len(self.state()["purchases"])

    def adjust_path(self, client_id: str) -> str:
        return f"/api/v1/clients/{client_id}/bonuses"


SIDES: dict[str, tuple[type[BonusSide], Any]] = {}


def _samosale() -> Any:
    from connectors.samosale.emulator import SamosaleEmulator
    return SamosaleEmulator(api_key="emu-key", webhook_secret="emu-secret", rate_limit=0)


SIDES["samosale"] = (SamosaleSide, _samosale)


@contextmanager
def bonus_side(system: str) -> Iterator[BonusSide]:
    side_class, factory = SIDES[system]
    with RunningEmulator(factory()) as running:
        yield side_class(running)



# The other programs' sides live beside their connectors' tests and subclass BonusSide above.
from tests.connectors.maxma.side import MaxmaSide, maxma_emulator_factory  # noqa: E402
from tests.connectors.uds.side import UdsSide, uds_emulator_factory  # noqa: E402

SIDES.update(maxma=(MaxmaSide, maxma_emulator_factory), uds=(UdsSide, uds_emulator_factory))
