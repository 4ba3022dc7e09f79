"""SMS.ru in the shared message-channel tests: its emulator, a hub connection to it, and what a
test reads or makes happen there (the SMS it holds, a delivery report). SMS.ru's documentation
shows no incoming-SMS callback, so clients cannot reply through it."""

from __future__ import annotations

from typing import Any

import requests

from connectors.smsru.emulator import SmsruEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.channel_side import ChannelSide


def smsru_emulator_factory() -> SmsruEmulator:
    return SmsruEmulator(api_id="EMU-API-ID", rate_limit=0)


class SmsruSide(ChannelSide):
    system = "smsru"
    channel = "sms"
    statuses = True
    replies = False

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="SMS.ru", system="smsru", base_url=self.url, credentials={"api_id": creds["api_id"]},
            settings={"rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def sent(self) -> list[dict[str, Any]]:
        return [{"id": m["id"], "to": f"+{m['phone']}", "text": m["text"], "buttons": []}
                for m in self.state()["messages"]]

    def deliver(self, provider_id: str, status: str = "delivered") -> int:
        answer = requests.post(f"{self.url}/_emulator/deliver", json={"id": provider_id, "status": status}, timeout=15)
        assert answer.status_code == 200, answer.text  # hook_to() first
        return int(answer.json()["status"])
