"""VK at the hub: the channel connector (sending through ``VkBot``) and the Callback API intake —
the shared secret in the body checked, the confirmation request answered with the confirmation
string, one inbox row per event keyed by ``event_id``, every other request answered ``ok``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post, require_secret
from connectors.channels.connector import ChannelConnector
from connectors.vk import mapping
from connectors.vk.adapter import VkBot
from connectors.vk.client import limiter_for
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import WebhookParse


class VkConnector(ChannelConnector):
    system = "vk"
    title = _("VK")
    channel = "vk"
    bot = True
    adapter_class = VkBot

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)  # the secret travels in the body: checked in parse_webhook

    def redact(self, raw_body: str, request: HttpRequest) -> str:
        return mapping.redact_secret(raw_body)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        body = json_body(request)
        self._verify(connection, body)
        if body.get("type") == mapping.CONFIRMATION:
            confirmation = str((connection.credentials or {}).get("confirmation") or "")
            if not confirmation:
                raise WebhookRejected("The connection has no confirmation string configured.", status=403)
            return WebhookParse(response_body=confirmation)
        if not isinstance(body.get("type"), str) or not body["type"]:
            raise WebhookRejected("VK event has no type.")
        return WebhookParse(events=[mapping.event_from_callback(body)], response_body="ok")

    @staticmethod
    def _verify(connection: Connection, body: dict[str, Any]) -> None:
        """The secret must match (constant time); only a confirmation request may come without
        one. An event for another community is not ours either."""
        if not (body.get("type") == mapping.CONFIRMATION and "secret" not in body):
            require_secret(str((connection.credentials or {}).get("secret") or ""), str(body.get("secret") or ""),
                           "Bad or missing secret (or no secret configured).", status=403)
        group_id = (connection.settings or {}).get("group_id")
        if group_id and str(body.get("group_id")) != str(group_id):
            raise WebhookRejected("The event is for another VK community (group_id).", status=403)
