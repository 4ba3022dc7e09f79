"""A Telegram bot as a message channel (the port of ``mailings.ports``), plus the few bot calls
the webhook side needs. The bot built later on this package adds its own calls here."""

from __future__ import annotations

from typing import Any

from connectors.telegram import mapping
from connectors.telegram.client import TelegramApiError, TelegramClient
from hub.models import Connection
from mailings.ports import OutgoingMessage, SendRefused


class TelegramBot:
    title = "Telegram"

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.client = TelegramClient(connection)

    def check(self) -> str:
        """Whose bot the token is (``getMe``); a bad token raises AuthError."""
        return mapping.bot_description(self.client.call(mapping.GET_ME))

    def send(self, message: OutgoingMessage) -> str:
        """``sendMessage`` (with the inline keyboard); the new message's id. Telegram's refusal of
        this chat (blocked, deleted, never started the bot) is ``SendRefused``, not retried."""
        body = mapping.send_message_body(message)
        self.client.chat_limiter(body["chat_id"]).acquire()
        try:
            result = self.client.call(mapping.SEND_MESSAGE, body)
        except TelegramApiError as exc:
            raise SendRefused(mapping.refusal_reason(exc.code, exc.description)) from exc
        return str(result.get("message_id") or "") if isinstance(result, dict) else ""

    def answer_callback(self, callback_query_id: str, text: str = "") -> None:
        """Stop the client's progress bar after a button press (Telegram expects every press
        answered); ``text`` is shown as a short notification when given."""
        body: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            body["text"] = text
        self.client.call(mapping.ANSWER_CALLBACK_QUERY, body)

    def set_webhook(self, url: str) -> None:
        """Point Telegram at the hub's webhook, with the connection's secret token."""
        secret = str((self.connection.credentials or {}).get("webhook_secret") or "")
        self.client.call(mapping.SET_WEBHOOK, {"url": url, **({"secret_token": secret} if secret else {})})
