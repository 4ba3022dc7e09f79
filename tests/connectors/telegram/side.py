"""Telegram in the shared channel tests: its emulator, a hub connection to it, and what a client
does in the chat (writes to the bot, presses an inline button)."""

from __future__ import annotations

from typing import Any

import requests

from connectors.telegram.emulator import TelegramEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.channel_side import ChannelSide

TOKEN, WEBHOOK_SECRET = "7000000001:emu-token-0123456789abcdefghijklmno", "emu-webhook-secret"


def telegram_emulator_factory() -> TelegramEmulator:
    return TelegramEmulator(token=TOKEN, webhook_secret=WEBHOOK_SECRET, rate_limit=0)


class TelegramSide(ChannelSide):
    system = "telegram"
    channel = "telegram"
    statuses = False  # the Bot API reports no deliveries
    replies = True
    buttons = True

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="Telegram", system="telegram", base_url=self.url,
            credentials={"token": creds["token"], "webhook_secret": creds["webhook_secret"]},
            settings={"rate_limit": "1000/second", "chat_rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def sent(self) -> list[dict[str, Any]]:
        return [{"id": str(m["message_id"]), "to": str(m["chat_id"]), "text": m["text"],
                 "buttons": [b["callback_data"] for row in (m["reply_markup"] or {}).get("inline_keyboard", [])
                             for b in row if "callback_data" in b]}
                for m in self.state()["messages"]]

    def _user(self, action: str, **spec: Any) -> int:
        answer = requests.post(f"{self.url}/_emulator/{action}", json=spec, timeout=30)
        answer.raise_for_status()
        return int(answer.json()["status"])

    def reply(self, address: str, text: str) -> int:
        return self._user("incoming", **{"from": int(address), "text": text})

    def press(self, address: str, data: str) -> int:
        return self._user("press", **{"from": int(address), "data": data})
