"""VK in the shared channel tests: its emulator, a hub connection to it, and what a client does
in the community's dialog (writes, presses a keyboard button)."""

from __future__ import annotations

import json
from typing import Any

import requests

from connectors.vk.emulator import VkEmulator
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.channel_side import ChannelSide

ACCESS_TOKEN, SECRET, CONFIRMATION, GROUP_ID = "vk1.a.emu-token", "emu-secret", "c0nf1rm", 229000001


def vk_emulator_factory() -> VkEmulator:
    return VkEmulator(access_token=ACCESS_TOKEN, secret=SECRET, confirmation=CONFIRMATION, group_id=GROUP_ID,
                      rate_limit=0)


def _data(button: dict[str, Any]) -> str:
    payload = json.loads(button["action"].get("payload") or "{}")
    return str(payload.get("data", "")) if isinstance(payload, dict) else ""


class VkSide(ChannelSide):
    system = "vk"
    channel = "vk"
    statuses = False  # VK reports no deliveries to a community bot
    replies = True
    buttons = True

    def connect(self) -> Connection:
        creds = self.emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="VK", system="vk", base_url=self.url,
            credentials={"access_token": creds["access_token"], "secret": creds["secret"],
                         "confirmation": creds["confirmation"]},
            settings={"group_id": creds["group_id"], "rate_limit": "1000/second", "max_attempts": 3})
        return connection

    def sent(self) -> list[dict[str, Any]]:
        return [{"id": str(m["id"]), "to": str(m["peer_id"]), "text": m["message"],
                 "buttons": [_data(b) for row in (m["keyboard"] or {}).get("buttons", []) for b in row]}
                for m in self.state()["messages"]]

    def _user(self, action: str, **spec: Any) -> int:
        answer = requests.post(f"{self.url}/_emulator/{action}", json=spec, timeout=30)
        answer.raise_for_status()
        return int(answer.json()["status"])

    def reply(self, address: str, text: str) -> int:
        return self._user("incoming", **{"from": int(address), "text": text})

    def press(self, address: str, data: str) -> int:
        return self._user("press", **{"from": int(address), "data": data})
