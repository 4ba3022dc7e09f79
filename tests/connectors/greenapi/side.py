"""Green-API in the shared channel tests: its emulator, a hub connection to it, and what the
provider holds or makes happen (a delivery report, a client's reply)."""

from __future__ import annotations

from typing import Any

import requests

from connectors.greenapi.emulator import GreenApiEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.channel_side import ChannelSide


def greenapi_emulator_factory() -> GreenApiEmulator:
    return GreenApiEmulator(id_instance="1101000001", api_token="emu-token", webhook_token="emu-hook-token",
                            rate_limit=0)


class GreenapiSide(ChannelSide):
    system = "greenapi"
    channel = "whatsapp"

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="Green-API", system="greenapi", base_url=self.url,
            credentials={"id_instance": creds["id_instance"], "api_token": creds["api_token"],
                         "webhook_token": creds["webhook_token"]},
            settings={"rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def sent(self) -> list[dict[str, Any]]:
        return [{"id": m["id"], "to": "+" + m["chatId"].split("@", 1)[0], "text": m["text"], "buttons": []}
                for m in self.state()["messages"]]

    def _emulate(self, path: str, body: dict[str, Any]) -> int:
        answer = requests.post(f"{self.url}/_emulator/{path}", json=body, timeout=35)
        answer.raise_for_status()
        return int(answer.json()["status"])

    def deliver(self, provider_id: str, status: str = "delivered") -> int:
        return self._emulate("deliver", {"id": provider_id, "status": status})

    def reply(self, address: str, text: str) -> int:
        return self._emulate("incoming", {"from": address, "text": text})
