"""SMSC as a message channel (the port of ``mailings.ports``): one SMS per message, the phone
sent as digits, and the hub's message key passed as SMSC's ``id`` (``mapping.message_id``): SMSC
documents that id as the client's identification of the message — its statuses come back under
it — though not as a deduplication key, so a lost answer may still mean a second SMS on retry
(SMSC refuses an identical request within a minute with error 9, which is waited out)."""

from __future__ import annotations

import logging

from connectors.smsc import mapping
from connectors.smsc.client import SmscClient
from hub.logging import mask_phone
from hub.models import Connection
from mailings.ports import OutgoingMessage, SendRefused

log = logging.getLogger(__name__)


class SmscChannel:
    title = "SMSC"

    def __init__(self, connection: Connection) -> None:
        self.client = SmscClient(connection)

    def check(self) -> str:
        """The balance: proves the login works and tells the operator when to top up."""
        return f"Баланс: {self.client.balance():.2f} ₽"

    def send(self, message: OutgoingMessage) -> str:
        phone = mapping.provider_phone(message.address)
        if not message.text.strip():
            raise SendRefused("Пустой текст сообщения: SMSC его не отправит.")
        provider_id = self.client.send(phone, message.text, mapping.message_id(message.key))
        log.info("smsc: message %s to %s accepted as %s", message.key, mask_phone(message.address), provider_id)
        return provider_id
