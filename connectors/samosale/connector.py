"""SamoSale connector: the bonus-program connector with SamoSale's adapter and webhook."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post, verify_hmac
from connectors.bonus.connector import CLIENT_CHANGED, BonusProgramConnector
from connectors.samosale import mapping
from connectors.samosale.adapter import SamosaleProgram
from connectors.samosale.client import limiter_for
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent, WebhookParse


def _text(value: object) -> str:
    """An id or a phone as text; "" for what is none (a list, an object, true/false, null)."""
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


class SamosaleConnector(BonusProgramConnector):
    system = "samosale"
    title = _("SamoSale")
    adapter_class = SamosaleProgram

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        verify_hmac(connection.credentials.get("webhook_secret", ""), request.body,
                    request.headers.get(mapping.SIGNATURE_HEADER))

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        data = json_body(request)
        event_id, client_id = _text(data.get("event_id")), _text(data.get("client_id"))
        if not event_id or not client_id:
            raise WebhookRejected("event_id and client_id are required (a string or a number each).")
        if data.get("event") != mapping.BALANCE_CHANGED:
            return WebhookParse()  # an event we do not use: acknowledged, nothing to do
        return WebhookParse(events=[InboundEvent(
            event_key=f"samosale:{event_id}", kind=CLIENT_CHANGED,
            payload={"client_id": client_id, "phone": _text(data.get("phone")),
                     "operation_id": _text(data.get("operation_id"))})])
