"""MAXMA connector: the bonus-program connector with MAXMA's adapter and webhook.

MAXMA posts a JSON array of events; the receiver is closed with HTTP Basic authorization (the
user and password the operator set in MAXMA's webhook settings, kept in the connection's
credentials ``webhook_user`` / ``webhook_password``); it retries 5xx and timeouts, not 4xx.
A client's events become "this client changed" rows (one per event, deduplicated by
``eventId``): the hub then reads the client's history and balance."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_value, require_post, require_secret
from connectors.bonus.connector import CLIENT_CHANGED, BonusProgramConnector
from connectors.maxma import mapping
from connectors.maxma.adapter import MaxmaProgram
from connectors.maxma.client import limiter_for
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent, WebhookParse

MAX_EVENTS = 1000  # one call's events; more is not a MAXMA delivery


def _events(request: HttpRequest) -> list[Any]:
    """MAXMA posts a JSON array of events; ``json_value`` does the careful reading."""
    data = json_value(request)
    if not isinstance(data, list):
        raise WebhookRejected("Body must be a JSON array of MAXMA events.")
    return data


def _basic_token(header: str | None) -> str:
    """The user:password a Basic header carries, re-encoded canonically ("" when unreadable)."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return ""
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):  # not base64, or not ASCII at all
        return ""
    return base64.b64encode(raw).decode()


class MaxmaConnector(BonusProgramConnector):
    system = "maxma"
    title = _("MAXMA")
    adapter_class = MaxmaProgram

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        user = str(connection.credentials.get("webhook_user") or "")
        password = str(connection.credentials.get("webhook_password") or "")
        if not user or not password:
            raise WebhookRejected("The connection has no webhook user and password configured.", status=401)
        expected = base64.b64encode(f"{user}:{password}".encode()).decode()
        require_secret(expected, _basic_token(request.headers.get("Authorization")),
                       "Bad or missing Basic authorization.", status=401)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        events = _events(request)
        if len(events) > MAX_EVENTS:
            raise WebhookRejected(f"Too many events in one request ({len(events)} > {MAX_EVENTS}).")
        inbound = []
        for n, event in enumerate(events):
            if not isinstance(event, dict):
                raise WebhookRejected(f"Event #{n} is not a JSON object.")
            event_id = event.get("eventId")
            if isinstance(event_id, bool) or not isinstance(event_id, str | int) or not str(event_id).strip():
                raise WebhookRejected(f"Event #{n} has no eventId.")
            name = event.get("event")
            if not isinstance(name, str) or name not in mapping.CLIENT_EVENTS:  # a list is unhashable
                continue  # an event the hub does not use: acknowledged, nothing to do
            phone = mapping.event_phone(event)
            if not phone:
                raise WebhookRejected(f"Event #{n} ({name}) names no client phoneNumber.")
            inbound.append(InboundEvent(event_key=f"maxma:{str(event_id).strip()}", kind=CLIENT_CHANGED,
                                        payload={"client_id": phone, "phone": phone}))
        return WebhookParse(events=inbound)
