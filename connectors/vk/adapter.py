"""A VK community bot as a message channel (the port of ``mailings.ports``). The bot built
later on this package adds its own calls here."""

from __future__ import annotations

from connectors.vk import mapping
from connectors.vk.client import VkApiError, VkClient
from hub.models import Connection
from mailings.ports import OutgoingMessage, SendRefused


class VkBot:
    title = "VK"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.client = VkClient(connection)

    def check(self) -> str:
        """Which community the token belongs to (``groups.getById``); a bad token raises AuthError."""
        group_id = (self.connection.settings or {}).get("group_id")
        return mapping.group_description(self.client.call(mapping.GROUP, {"group_id": group_id} if group_id else {}))

    def send(self, message: OutgoingMessage) -> str:
        """``messages.send`` with a ``random_id`` derived from the message key, so a retry after a
        lost answer is not delivered twice; the message id. VK's refusal of this user (no
        permission, privacy, blacklist) is ``SendRefused``, not retried."""
        try:
            response = self.client.call(mapping.SEND, mapping.send_params(message))
        except VkApiError as exc:
            raise SendRefused(mapping.refusal_reason(exc.code, exc.error_msg)) from exc
        return str(response)
