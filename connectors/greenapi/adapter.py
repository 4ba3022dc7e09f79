"""Green-API as a message channel (``mailings.ports.MessageChannel``).

``send`` puts one text into the instance's queue and returns Green-API's ``idMessage``; the
delivery outcome arrives later as an ``outgoingMessageStatus`` webhook. A number without
WhatsApp is accepted here and reported as ``noAccount`` afterwards. Green-API has no
idempotency key: a retry after a lost answer may send the text twice. Buttons are not sent
(plain WhatsApp text)."""

from __future__ import annotations

import logging

from connectors.greenapi import mapping
from connectors.greenapi.client import GreenApiClient, GreenApiRefusal
from hub.logging import mask_phone
from hub.models import Connection
from hub.sync.errors import AuthError, RetryableError, SyncError
from mailings.ports import OutgoingMessage, SendRefused

log = logging.getLogger(__name__)

TEMPORARY_STATES = frozenset({"starting", "sleepMode"})


class GreenApiChannel:
    title = "Green-API"

    def __init__(self, connection: Connection) -> None:
        self.client = GreenApiClient(connection)

    def check(self) -> str:
        """The instance's state (the token works and WhatsApp is linked), plus warnings about
        notification settings the hub relies on."""
        data = self.client.call("GET", mapping.GET_STATE)
        state = data.get("stateInstance") if isinstance(data, dict) else None
        works, text = mapping.state_text(state)
        if not works:
            raise (RetryableError if state in TEMPORARY_STATES else AuthError)(text + ".")
        warnings = []
        try:
            settings = self.client.call("GET", mapping.GET_SETTINGS)
        except SyncError:
            settings = None  # the state answered: the connection works; settings are a bonus
        if isinstance(settings, dict):
            if not settings.get("webhookUrl"):
                warnings.append("не задан адрес вебхука (webhookUrl)")
            if settings.get("outgoingWebhook") == "no":
                warnings.append("выключены уведомления о статусах (outgoingWebhook)")
            if settings.get("incomingWebhook") == "no":
                warnings.append("выключены входящие сообщения (incomingWebhook)")
        return f"{text}." + (f" Внимание: {'; '.join(warnings)}." if warnings else "")

    def send(self, message: OutgoingMessage) -> str:
        chat = mapping.chat_id(message.address)
        try:
            data = self.client.call("POST", mapping.SEND_MESSAGE, {"chatId": chat, "message": message.text})
        except GreenApiRefusal as exc:
            log.info("greenapi: message %s to %s refused (HTTP %s)", message.key, mask_phone(message.address),
                     exc.status)
            raise SendRefused(exc.reason) from exc
        provider_id = data.get("idMessage") if isinstance(data, dict) else None
        if not isinstance(provider_id, str) or not provider_id.strip():
            raise RetryableError("Green-API ответил на sendMessage без idMessage.")
        log.info("greenapi: message %s to %s queued as %s", message.key, mask_phone(message.address), provider_id)
        return provider_id
