"""Green-API connector: the channel connector with Green-API's adapter and webhook reading.

Green-API posts one JSON notification per request and retries anything but 200 every minute
for 24 h, and duplicates happen: every event is keyed by Green-API's ``idMessage`` (a status
report by id and status), so a redelivery is a no-op. Authorization: when the connection has
``credentials["webhook_token"]`` (the instance's "Webhook URL Token"), a request without that
token is refused with 403; without one configured, any POST is read.

What becomes an event:

- ``outgoingMessageStatus`` → ``mailings.ports.STATUS`` ``{"provider_id", "status", "error"}``
  (neutral status; a Russian reason for failures, e.g. noAccount);
- ``incomingMessageReceived`` with text from a personal chat → ``INCOMING``;
- our own messages echoed back (``outgoingMessageReceived`` / ``outgoingAPIMessageReceived``):
  acknowledged, nothing stored;
- anything else (other notification types, media or group messages, unknown statuses) →
  a ``greenapi.other`` row ``{"type", "id"}``, kept for the record and ignored by the handler.

The body carries no secret (the token travels in a header), so it is stored as received."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post, require_secret
from connectors.channels.connector import ChannelConnector
from connectors.greenapi import mapping
from connectors.greenapi.adapter import GreenApiChannel
from connectors.greenapi.client import limiter_for
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent, WebhookParse
from mailings.ports import INCOMING, STATUS

OTHER = f"{mapping.SYSTEM}.other"
ID_MAX = 128


def _token(header: str | None) -> str:
    """The token an Authorization header carries: ``Bearer <token>`` or the bare token."""
    value = (header or "").strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else value


def _message_id(body: dict[str, Any], required: bool) -> str:
    value = body.get("idMessage")
    if isinstance(value, str) and value.strip() and len(value) <= ID_MAX:
        return value.strip()
    if required:
        raise WebhookRejected("The notification has no idMessage.")
    return ""


class GreenApiConnector(ChannelConnector):
    system = mapping.SYSTEM
    title = _("Green-API")
    channel = "whatsapp"
    adapter_class = GreenApiChannel

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        expected = str((connection.credentials or {}).get("webhook_token") or "")
        if expected:
            require_secret(expected, _token(request.headers.get("Authorization")),
                           "Bad or missing webhook token (Authorization header).", status=403)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        body = json_body(request)
        kind = body.get("typeWebhook")
        if not isinstance(kind, str) or not kind.strip():
            raise WebhookRejected("No typeWebhook: this is not a Green-API notification.")
        self._check_instance(connection, body)
        if kind in mapping.ECHO_TYPES:
            return WebhookParse()
        if kind == mapping.TYPE_STATUS:
            return WebhookParse(events=[self._status(body, request)])
        if kind == mapping.TYPE_INCOMING:
            return WebhookParse(events=[self._incoming(body, request)])
        return WebhookParse(events=[self._other(kind, body, request)])

    @staticmethod
    def _check_instance(connection: Connection, body: dict[str, Any]) -> None:
        """A notification of another instance (a misrouted webhook URL) is not ours to store."""
        data = body.get("instanceData")
        ours = str((connection.credentials or {}).get("id_instance") or "").strip()
        theirs = data.get("idInstance") if isinstance(data, dict) else None
        if ours and isinstance(theirs, int | str) and not isinstance(theirs, bool) and str(theirs).strip() != ours:
            raise WebhookRejected("The notification is for another Green-API instance.")

    def _status(self, body: dict[str, Any], request: HttpRequest) -> InboundEvent:
        provider_id = _message_id(body, required=True)
        status = body.get("status")
        if not isinstance(status, str) or not status.strip():
            raise WebhookRejected("The status notification has no status.")
        mapped = mapping.status_of(status, body.get("description"))
        if mapped is None:
            return self._other(f"{mapping.TYPE_STATUS}/{status[:40]}", body, request)
        neutral, reason = mapped
        return InboundEvent(event_key=f"{mapping.SYSTEM}:status:{provider_id}:{status}", kind=STATUS,
                            payload={"provider_id": provider_id, "status": neutral, "error": reason})

    def _incoming(self, body: dict[str, Any], request: HttpRequest) -> InboundEvent:
        provider_id = _message_id(body, required=True)
        sender = body.get("senderData")
        if not isinstance(sender, dict):
            raise WebhookRejected("The incoming message has no senderData.")
        message = body.get("messageData")
        if not isinstance(message, dict):
            raise WebhookRejected("The incoming message has no messageData.")
        phone = mapping.phone_from_chat_id(sender.get("chatId"))
        text = mapping.incoming_text(message)
        if phone is None or text is None:  # a group chat, media, a reaction…: not a reply the hub reads
            return self._other(f"{mapping.TYPE_INCOMING}/{str(message.get('typeMessage'))[:40]}", body, request)
        return InboundEvent(event_key=f"{mapping.SYSTEM}:incoming:{provider_id}", kind=INCOMING,
                            payload={"address_kind": "phone", "address": phone, "text": text, "data": "",
                                     "provider_id": provider_id})

    @staticmethod
    def _other(kind: str, body: dict[str, Any], request: HttpRequest) -> InboundEvent:
        provider_id = _message_id(body, required=False)
        key = provider_id or hashlib.sha256(request.body).hexdigest()[:32]
        return InboundEvent(event_key=f"{mapping.SYSTEM}:other:{kind[:80]}:{key}", kind=OTHER,
                            payload={"type": kind, "id": provider_id})
