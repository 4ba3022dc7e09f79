"""MAXMA in the shared bonus-program tests: its emulator, a hub connection to it, and the
emulator knobs a cashier at the venue would use."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from connectors.maxma.emulator import MaxmaEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.bonus_side import BonusSide


def maxma_emulator_factory() -> MaxmaEmulator:
    return MaxmaEmulator(processing_key="emu-key", webhook_password="emu-password", rate_limit=0)


class MaxmaSide(BonusSide):
    system = "maxma"
    webhooks = True
    can_register = True

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="MAXMA", system="maxma", base_url=self.url,
            credentials={"processing_key": creds["processing_key"], "webhook_user": creds["webhook_user"],
                         "webhook_password": creds["webhook_password"]},
            settings={"rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/{operation}", json=body, timeout=5,
                               headers={"X-Processing-Key": self.emulator.app.processing_key})
        answer.raise_for_status()
        data = answer.json()
        assert not data.get("errorCode"), data
        return data

    def _client(self, phone: str) -> dict[str, Any]:
        return next(c for c in self.state()["clients"] if c["phoneNumber"] == phone)

    def join(self, phone: str, points: Decimal | int = 0) -> str:
        client = self.call("new-client", {"client": {"phoneNumber": phone}})["client"]
        if points:
            self.operate(phone, points, "Стартовые баллы")
        return str(client["phoneNumber"])

    def operate(self, phone: str, points: Decimal | int, comment: str = "Касса") -> None:
        requests.post(f"{self.url}/_emulator/operate", json={"phoneNumber": phone, "amount": int(points),
                                                             "comment": comment}, timeout=5).raise_for_status()

    def balance(self, phone: str) -> Decimal:
        return Decimal(self._client(phone)["clientBonuses"]["available"])

    def purchases(self) -> int:
        return sum(1 for p in self.state()["purchases"] if p["status"] == "confirmed")

    def adjust_path(self, client_id: str) -> str:
        return "/adjust-balance"

    def hook_to(self, live_server: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults",
                      json={"webhook_url": f"{live_server.url}{self.connection.webhook_path}"},
                      timeout=5).raise_for_status()
