"""The message-channel port: what the mailings domain needs from a messaging provider (SMS.ru,
SMSC, Green-API, Wazzup, a Telegram or VK bot, e-mail).

Defined here, by the domain that uses it; each provider's connector implements it in
``connectors/<provider>/adapter.py``. Transport trouble (timeouts, 5xx, 429) is raised as the
sync engine's ``SyncError`` family (``RateLimited`` with ``retry_after``) and retried by the
outbox; a provider's refusal of this one message is ``SendRefused`` and is not retried — the
campaign's next channel is tried instead.

Provider webhooks become two neutral inbox events, whatever the provider:

- ``STATUS`` ``{"provider_id", "status": one of DELIVERY_STATUSES, "error"}``
- ``INCOMING`` ``{"address_kind": one of ADDRESS_KINDS, "address", "text", "data", "provider_id"}``
  (``data``: the callback data of a pressed button, "" for typed text)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SEND = "message.send"  # the outbox action a provider connection takes
STATUS = "message.status"
INCOMING = "message.incoming"

SENT, DELIVERED, READ, FAILED = "sent", "delivered", "read", "failed"
DELIVERY_STATUSES = (SENT, DELIVERED, READ, FAILED)

#: How the sender of an incoming message is identified: E.164 phone (SMS, WhatsApp), a
#: Telegram user id, a VK user id, an e-mail address.
ADDRESS_KINDS = ("phone", "telegram", "vk", "email")


class SendRefused(Exception):
    """The provider refused this message for good (bad number, no WhatsApp on it, the user
    blocked the bot). ``reason`` is for people, shown in admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # Telegram callback_data (≤ 64 bytes) / VK button payload
    request: str = ""  # "phone": a reply-keyboard button that shares the client's own number (Telegram)


@dataclass(frozen=True)
class OutgoingMessage:
    key: str  # the hub's stable id of this message; providers that deduplicate get it
    address: str  # E.164 phone (sms, whatsapp), chat id (telegram), peer id (vk), e-mail
    text: str
    subject: str = ""  # e-mail only
    buttons: tuple[tuple[Button, ...], ...] = ()  # inline keyboard rows (telegram, vk)


class MessageChannel(Protocol):
    def check(self) -> str:
        """A short human-readable description of the account (balance, bot name…); raises
        ``SyncError`` when the credentials do not work."""

    def send(self, message: OutgoingMessage) -> str:
        """Send one message; returns the provider's message id."""
