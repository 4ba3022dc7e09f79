"""Wazzup as a message channel (``mailings.ports.MessageChannel``).

``send`` posts one WhatsApp text through the connection's channel (``settings["channel_id"]``)
and returns Wazzup's ``messageId``. The hub's message key rides as ``crmMessageId``, which Wazzup
documents for exactly this: a retry after a lost answer is not sent twice (Wazzup answers
``repeatedCrmMessageId``; the message then keeps the id ``crm:<key>``, see mapping). Delivery
outcomes arrive later as status webhooks. Buttons are not sent (plain WhatsApp text)."""

from __future__ import annotations

import logging

from connectors.wazzup import mapping
from connectors.wazzup.client import WazzupClient, WazzupError
from hub.logging import mask_phone
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError, RetryableError
from mailings.ports import OutgoingMessage, SendRefused

log = logging.getLogger(__name__)


class WazzupChannel:
    title = "Wazzup"

    def __init__(self, connection: Connection) -> None:
        self.client = WazzupClient(connection)
        self.channel_id = str((connection.settings or {}).get("channel_id") or "").strip()

    def check(self) -> str:
        """The key works and the configured channel is an active WhatsApp channel."""
        channels = self.client.channels()
        if not self.channel_id:
            ids = [str(c.get("channelId")) for c in channels if c.get("transport") == mapping.CHAT_TYPE]
            raise FatalError("В настройках подключения не указан channel_id. Каналы WhatsApp в Wazzup: "
                             + (", ".join(ids) if ids else "нет") + ".")
        channel = next((c for c in channels if str(c.get("channelId")) == self.channel_id), None)
        if channel is None:
            raise FatalError(f"Канал {self.channel_id} не найден среди каналов Wazzup этого ключа.")
        if channel.get("transport") != mapping.CHAT_TYPE:
            raise FatalError(f"Канал {self.channel_id} — не WhatsApp ({str(channel.get('transport'))[:30]}).")
        state = channel.get("state")
        works, text = mapping.channel_state(state)
        if not works:
            raise (RetryableError if state in mapping.TEMPORARY_STATES else AuthError)(text + ".")
        number = mapping.phone_from_chat_id(channel.get("plainId"))
        return f"{text}" + (f", номер {mask_phone(number)}." if number else ".")

    def send(self, message: OutgoingMessage) -> str:
        if not self.channel_id:
            raise AuthError("В настройках подключения Wazzup не указан channel_id.")
        body = {"channelId": self.channel_id, "chatType": mapping.CHAT_TYPE,
                "chatId": mapping.chat_id(message.address), "text": message.text,
                **({"crmMessageId": message.key} if message.key else {})}
        try:
            data = self.client.send_message(body)
        except WazzupError as exc:
            if exc.kind == mapping.REFUSED:
                log.info("wazzup: message %s to %s refused (%s)", message.key, mask_phone(message.address),
                         exc.code or exc.status)
                raise SendRefused(exc.reason) from exc
            if exc.kind == mapping.REPEATED and message.key:  # our earlier attempt went out
                log.info("wazzup: message %s was sent by an earlier attempt", message.key)
                return mapping.CRM_PREFIX + message.key
            raise
        provider_id = data.get("messageId")
        if not isinstance(provider_id, str) or not provider_id.strip():
            raise RetryableError("Wazzup ответил на отправку без messageId.")  # crmMessageId keeps a retry safe
        log.info("wazzup: message %s to %s sent as %s", message.key, mask_phone(message.address), provider_id)
        return provider_id
