"""SMS.ru as a message channel (the port of ``mailings.ports``): one SMS per message, the
phone sent as SMS.ru takes it (digits, no "+"), SMS.ru's ``sms_id`` returned as the provider's
id. SMS.ru takes no idempotency key, so the hub's key is not sent; a lost answer may mean a
second SMS on retry, as with any provider without one."""

from __future__ import annotations

import logging

from connectors.smsru import mapping
from connectors.smsru.client import SmsruClient
from hub.logging import mask_phone
from hub.models import Connection
from mailings.ports import OutgoingMessage, SendRefused

log = logging.getLogger(__name__)


class SmsruChannel:
    title = "SMS.ru"

    def __init__(self, connection: Connection) -> None:
        self.client = SmsruClient(connection)

    def check(self) -> str:
        """The balance: proves the api_id works and tells the operator when to top up."""
        return f"Баланс: {self.client.balance():.2f} ₽"

    def send(self, message: OutgoingMessage) -> str:
        phone = mapping.provider_phone(message.address)
        if not message.text.strip():
            raise SendRefused("Пустой текст сообщения: SMS.ru его не отправит.")
        provider_id = self.client.send(phone, message.text)
        log.info("smsru: message %s to %s accepted as %s", message.key, mask_phone(message.address), provider_id)
        return provider_id
