"""SamoSale in the shared external-program tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from connectors.samosale.emulator import SamosaleEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.bonus_side import BonusSide


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


def samosale_emulator_factory() -> SamosaleEmulator:
    return SamosaleEmulator(api_key="emu-key", webhook_secret="emu-secret", rate_limit=0)
