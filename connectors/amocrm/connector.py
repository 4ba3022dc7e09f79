"""amoCRM behind the CRM port: webhooks are form-encoded legacy v2 bodies, not signed —
the secret is the connection key in the URL, and the account must be the connection's."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.amocrm import mapping
from connectors.amocrm.adapter import AmoCRMAdapter
from connectors.amocrm.client import limiter_for
from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import form_fields, require_post, require_secret
from connectors.crm.connector import CrmConnector
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import WebhookParse


class AmoCRMConnector(CrmConnector):
    system = "amocrm"
    title = _("amoCRM")
    adapter_class = AmoCRMAdapter

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        require_secret(connection.settings.get("subdomain") or "", form_fields(request).get("account[subdomain]", ""),
                       "Webhook is not from this connection's amoCRM account.")

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        form = form_fields(request).dict()
        try:
            events = mapping.events_from_form(form)
        except ValueError as exc:
            raise WebhookRejected(str(exc)) from exc
        return WebhookParse(events=self.events_to_inbound(events) if events else self.unrouted(form))
