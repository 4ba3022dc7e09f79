"""Wazzup connector: the channel connector with Wazzup's adapter and webhook reading.

Wazzup posts ``{"messages": [...], "statuses": [...]}`` (either or both) and expects 200 within
30 s. Authorization: when the connection has ``credentials["crm_key"]``, Wazzup's
``Authorization: Bearer <crmKey>`` must match, else 403 — except for the bare connection test
``{"test": true}``, which is answered 200 whoever sends it: it carries nothing, stores nothing,
and Wazzup refuses to set a webhook URL whose test is not answered 200.

What becomes an event (each keyed by Wazzup's ``messageId``, so a redelivery is a no-op):

- a status → ``mailings.ports.STATUS`` ``{"provider_id", "status", "error"}`` (neutral status;
  a Russian reason for ``error``, e.g. BAD_CONTACT → no WhatsApp on the number);
- an incoming WhatsApp text (``isEcho`` false) → ``INCOMING``;
- echoes of outgoing messages (``isEcho`` true, ours or typed in Wazzup): nothing stored;
- anything else (media, other messengers or channels, edited/deleted messages, the ``edited``
  status, contact/deal/channel/template webhooks) → a ``wazzup.other`` row ``{"type", "id"}``,
  kept for the record and ignored by the handler.

The body carries no secret (the key travels in a header), so it is stored as received."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post
from connectors.channels.connector import ChannelConnector
from connectors.wazzup import mapping
from connectors.wazzup.adapter import WazzupChannel
from connectors.wazzup.client import limiter_for
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent, WebhookParse
from mailings.ports import FAILED, INCOMING, STATUS

OTHER = f"{mapping.SYSTEM}.other"
OTHER_TYPES = ("createContact", "createDeal", "channelsUpdates", "templateStatus", "wabaTemplatesStatus")
MAX_ITEMS = 1000  # messages + statuses of one request
ID_MAX = 128


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _is_test_ping(raw: bytes) -> bool:
    try:
        return json.loads(raw or b"null") == {"test": True}
    except (ValueError, RecursionError):
        return False


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:32]


def _list(body: dict[str, Any], name: str) -> list[Any]:
    value = body.get(name, [])
    if not isinstance(value, list):
        raise WebhookRejected(f"'{name}' must be a JSON array.")
    return value


def _message_id(item: dict[str, Any], where: str) -> str:
    value = item.get("messageId")
    if not isinstance(value, str) or not value.strip() or len(value) > ID_MAX:
        raise WebhookRejected(f"{where} has no messageId.")
    return value.strip()


class WazzupConnector(ChannelConnector):
    system = mapping.SYSTEM
    title = _("Wazzup")
    channel = "whatsapp"
    adapter_class = WazzupChannel

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        expected = str((connection.credentials or {}).get("crm_key") or "")
        if not expected:
            return
        sent = _bearer(request.headers.get("Authorization"))
        if sent and hmac.compare_digest(expected.encode(), sent.encode()):
            return
        if _is_test_ping(request.body):
            return
        raise WebhookRejected("Bad or missing Authorization: Bearer <crmKey>.", status=403)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        body = json_body(request)
        if body.get("test") is True:
            return WebhookParse()
        if "messages" not in body and "statuses" not in body:
            kind = next((name for name in OTHER_TYPES if name in body), None)
            if kind is None:
                raise WebhookRejected("Neither 'messages' nor 'statuses': this is not a Wazzup webhook.")
            return WebhookParse(events=[InboundEvent(event_key=f"{mapping.SYSTEM}:other:{kind}:{_digest(body)}",
                                                     kind=OTHER, payload={"type": kind, "id": ""})])
        messages, statuses = _list(body, "messages"), _list(body, "statuses")
        if len(messages) + len(statuses) > MAX_ITEMS:
            raise WebhookRejected(f"Too many items in one request (> {MAX_ITEMS}).")
        channel_id = str((connection.settings or {}).get("channel_id") or "")
        events = []
        for n, item in enumerate(messages):
            event = self._message(item, n, channel_id)
            if event is not None:
                events.append(event)
        for n, item in enumerate(statuses):
            events.append(self._status(item, n))
        return WebhookParse(events=events)

    @staticmethod
    def _message(item: Any, n: int, channel_id: str) -> InboundEvent | None:
        if not isinstance(item, dict):
            raise WebhookRejected(f"messages[{n}] is not a JSON object.")
        provider_id = _message_id(item, f"messages[{n}]")
        if item.get("isEcho") is True:
            return None  # an outgoing message (ours, or written in Wazzup): not an event for the hub
        phone = mapping.phone_from_chat_id(item.get("chatId"))
        text = item.get("text")
        ours = not channel_id or str(item.get("channelId") or channel_id) == channel_id
        if (ours and item.get("chatType") == mapping.CHAT_TYPE and item.get("type") == "text"
                and isinstance(text, str) and phone is not None
                and not item.get("isEdited") and not item.get("isDeleted")):
            return InboundEvent(event_key=f"{mapping.SYSTEM}:incoming:{provider_id}", kind=INCOMING,
                                payload={"address_kind": "phone", "address": phone, "text": text, "data": "",
                                         "provider_id": provider_id})
        kind = f"message/{str(item.get('chatType'))[:20]}/{str(item.get('type'))[:20]}"
        return InboundEvent(event_key=f"{mapping.SYSTEM}:other:{kind}:{provider_id}:{_digest(item)[:12]}",
                            kind=OTHER, payload={"type": kind, "id": provider_id})

    @staticmethod
    def _status(item: Any, n: int) -> InboundEvent:
        if not isinstance(item, dict):
            raise WebhookRejected(f"statuses[{n}] is not a JSON object.")
        provider_id = _message_id(item, f"statuses[{n}]")
        status = item.get("status")
        if not isinstance(status, str) or not status.strip():
            raise WebhookRejected(f"statuses[{n}] has no status.")
        neutral = mapping.STATUSES.get(status)
        if neutral is None:  # "edited" and whatever comes next
            kind = f"status/{status[:30]}"
            return InboundEvent(event_key=f"{mapping.SYSTEM}:other:{kind}:{provider_id}:{_digest(item)[:12]}",
                                kind=OTHER, payload={"type": kind, "id": provider_id})
        error = mapping.status_error(item.get("error")) if neutral == FAILED else ""
        return InboundEvent(event_key=f"{mapping.SYSTEM}:status:{provider_id}:{status}", kind=STATUS,
                            payload={"provider_id": provider_id, "status": neutral, "error": error})

