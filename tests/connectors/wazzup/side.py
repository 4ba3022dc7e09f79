"""Wazzup in the shared channel tests: its emulator, a hub connection to it, and what the
provider holds or makes happen (a delivery report, a client's reply)."""

from __future__ import annotations

from typing import Any

import requests

from connectors.wazzup.emulator import WazzupEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.channel_side import ChannelSide

CHANNEL_ID = "e0629e11-0f67-4567-92a9-2237e91ec1b9"


def wazzup_emulator_factory() -> WazzupEmulator:
    return WazzupEmulator(api_key="emu-api-key", channel_id=CHANNEL_ID, crm_key="emu-crm-key", rate_limit=0)


class WazzupSide(ChannelSide):
    system = "wazzup"
    channel = "whatsapp"

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="Wazzup", system="wazzup", base_url=self.url,
            credentials={"api_key": creds["api_key"], "crm_key": creds["crm_key"]},
            settings={"channel_id": creds["channel_id"], "rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def sent(self) -> list[dict[str, Any]]:
        return [{"id": m["id"], "to": "+" + m["chatId"], "text": m["text"], "buttons": []}
                for m in self.state()["messages"]]

    def _emulate(self, path: str, body: dict[str, Any]) -> int:
        answer = requests.post(f"{self.url}/_emulator/{path}", json=body, timeout=35)
        answer.raise_for_status()
        return int(answer.json()["status"])

    def deliver(self, provider_id: str, status: str = "delivered") -> int:
        return self._emulate("deliver", {"id": provider_id, "status": status})

    def reply(self, address: str, text: str) -> int:
        return self._emulate("incoming", {"from": address, "text": text})
