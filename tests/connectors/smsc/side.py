"""SMSC in the shared message-channel tests: its emulator, a hub connection to it, and what a
test reads or makes happen there (the SMS it holds, a delivery report, a client's reply)."""

from __future__ import annotations

from typing import Any

import requests

from connectors.smsc.emulator import SmscEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.channel_side import ChannelSide


def smsc_emulator_factory() -> SmscEmulator:
    return SmscEmulator(login="hub", password="emu-password", rate_limit=0)


class SmscSide(ChannelSide):
    system = "smsc"
    channel = "sms"
    statuses = True
    replies = True

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="SMSC", system="smsc", base_url=self.url,
            credentials={"login": creds["login"], "password": creds["password"]},
            settings={"rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def sent(self) -> list[dict[str, Any]]:
        return [{"id": str(m["id"]), "to": f"+{m['phone']}", "text": m["text"], "buttons": []}
                for m in self.state()["messages"]]

    def _emulate(self, path: str, body: dict[str, Any]) -> int:
        answer = requests.post(f"{self.url}{path}", json=body, timeout=15)
        assert answer.status_code == 200, answer.text  # hook_to() first
        return int(answer.json()["status"])

    def deliver(self, provider_id: str, status: str = "delivered") -> int:
        return self._emulate("/_emulator/deliver", {"id": provider_id, "status": status})

    def reply(self, address: str, text: str) -> int:
        return self._emulate("/_emulator/incoming", {"from": address, "text": text})
