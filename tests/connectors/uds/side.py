"""UDS in the shared bonus-program tests: its emulator, a hub connection to it, and the
knobs a venue would use (customers join in the UDS app; a cashier changes points by hand)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from connectors.uds.emulator import UdsEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.bonus_side import BonusSide

COMPANY_ID, API_KEY = "549755813888", "emu-key"


class UdsSide(BonusSide):
    system = "uds"
    webhooks = False  # UDS tells the hub nothing: the reconciliation reads what changed
    can_register = False  # clients join in the UDS app only

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(name="UDS", system="uds", base_url=f"{self.url}/partner/v2",
                                          credentials={"company_id": creds["company_id"],
                                                       "api_key": creds["api_key"]},
                                          settings={"rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def _customer(self, phone: str) -> dict[str, Any]:
        return next(c for c in self.state()["customers"] if c["phone"] == phone)

    def join(self, phone: str, points: Decimal | int = 0) -> str:
        answer = requests.post(f"{self.url}/_emulator/customers",
                               json={"phone": phone, "name": "Клиент", "points": str(points)}, timeout=5)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def operate(self, phone: str, points: Decimal | int, comment: str = "Касса") -> None:
        requests.post(f"{self.url}/_emulator/operate", json={"phone": phone, "points": str(points),
                                                             "comment": comment}, timeout=5).raise_for_status()

    def balance(self, phone: str) -> Decimal:
        return Decimal(str(self._customer(phone)["participant"]["points"])).quantize(Decimal("0.01"))

    def purchases(self) -> int:
        return sum(1 for op in self.state()["operations"] if op["action"] == "PURCHASE" and op["state"] == "NORMAL")

    def adjust_path(self, client_id: str) -> str:
        return "/partner/v2/operations/reward"


def uds_emulator_factory() -> UdsEmulator:
    return UdsEmulator(company_id=COMPANY_ID, api_key=API_KEY, rate_limit=0)
