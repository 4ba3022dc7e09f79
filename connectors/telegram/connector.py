"""Telegram at the hub: the channel connector (sending through ``TelegramBot``) and the webhook
intake — secret header checked, one inbox row per update keyed by ``update_id``, answered at
once; a pressed button is answered to Telegram before the row is processed."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post, require_secret
from connectors.channels.connector import ChannelConnector
from connectors.telegram import mapping
from connectors.telegram.adapter import TelegramBot
from connectors.telegram.client import limiter_for
from hub.models import Connection, Inbox
from hub.sync.errors import SyncError
from hub.sync.types import CheckResult, WebhookParse

log = logging.getLogger(__name__)


class TelegramConnector(ChannelConnector):
    system = "telegram"
    title = _("Telegram")
    channel = "telegram"
    bot = True
    adapter_class = TelegramBot

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        require_secret(str((connection.credentials or {}).get("webhook_secret") or ""),
                       request.headers.get(mapping.SECRET_HEADER, ""),
                       f"Bad or missing {mapping.SECRET_HEADER} (or no webhook_secret configured).", status=403)

    def register_webhook(self, connection: Connection, url: str) -> CheckResult:
        """``setWebhook`` with the connection's secret token (one is made and stored if missing)."""
        credentials = dict(connection.credentials or {})
        if not credentials.get("webhook_secret"):
            credentials["webhook_secret"] = secrets.token_urlsafe(32)
            connection.credentials = credentials
            connection.save(update_fields=["credentials", "updated_at"])
        try:
            TelegramBot(connection).set_webhook(url)
        except SyncError as exc:
            return CheckResult(ok=False, message=f"Telegram не принял адрес вебхука: {exc}")
        return CheckResult(ok=True, message=f"Telegram будет присылать сообщения боту на {url}")

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        event = mapping.event_from_update(json_body(request))
        return WebhookParse(events=[event], response_body="")  # Telegram only needs the 200

    def fetch_for_inbox(self, row: Inbox) -> Any:
        """Answer a pressed button (Telegram shows a spinner until then). A failed answer is
        logged and the event processed all the same: the press itself must not be lost."""
        query_id = mapping.callback_query_id(row.payload)
        if query_id and row.connection is not None:
            try:
                TelegramBot(row.connection).answer_callback(query_id)
            except SyncError as exc:
                log.warning("telegram: inbox %s: the button press was not answered: %s", row.pk, exc)
        return None
