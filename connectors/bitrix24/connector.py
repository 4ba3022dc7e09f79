"""Bitrix24 behind the CRM port: events are form-encoded and carry only the id; they are
verified by ``auth[application_token]`` (constant time) and the entity is fetched later."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import form_fields, require_post, require_secret
from connectors.bitrix24 import mapping
from connectors.bitrix24.adapter import Bitrix24Adapter
from connectors.bitrix24.client import limiter_for
from connectors.crm.connector import CrmConnector
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import WebhookParse

SECRET_FIELDS = ("auth[access_token]", "auth[refresh_token]", "auth[application_token]")


class Bitrix24Connector(CrmConnector):
    system = "bitrix24"
    title = _("Bitrix24")
    adapter_class = Bitrix24Adapter

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        require_secret(connection.credentials.get("application_token") or "",
                       form_fields(request).get("auth[application_token]", ""), "Wrong application_token.")

    def redact(self, raw_body: str, request: HttpRequest) -> str:
        """App events carry live tokens: never stored with the event (any body encoding). A form
        Django cannot read (the refusal says why) is masked as urlencoded text."""
        try:
            form: Mapping[str, str] = form_fields(request)
        except WebhookRejected:
            form = dict(parse_qsl(raw_body, keep_blank_values=True))
        for key in SECRET_FIELDS:
            value = form.get(key, "")
            if len(value) >= 4:
                raw_body = raw_body.replace(value, "***")
        return raw_body

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        form = form_fields(request).dict()
        if not form.get("event"):
            raise WebhookRejected("No event in the request.")
        try:
            event = mapping.event_from_form(form)
        except ValueError as exc:
            raise WebhookRejected(str(exc)) from exc
        return WebhookParse(events=self.events_to_inbound([event]) if event else self.unrouted(form))
