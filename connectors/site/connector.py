"""The organiser's site (a 1C-Bitrix endpoint, see PROTOCOL.md): event templates and
calendar dates pushed from the hub, ticket orders received from it.

Connection: ``base_url`` = the endpoint, ``credentials["secret"]`` = the shared secret;
settings (optional): ``product_kind`` (default "ticket"), ``sales_point`` (default the
connection's name)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from connectors.base.connector import Connector
from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_value, require_post
from connectors.site import mapping
from connectors.site.client import SiteClient, limiter_for
from events.models import EventDate, EventTemplate, SyncState
from events.services.content import ImageRejected, ImageUnavailable, image_check, image_fetch
from events.services.publishing import DATE, TEMPLATE, event_sync_failed, event_synced, site_id_of
from events.services.sales import SaleData, TicketLine, ticket_sale_record
from hub.models import Connection, Inbox, Outbox
from hub.services.outbox import max_attempts
from hub.sync.errors import FatalError, RetryableError, SyncError, WebhookRejected
from hub.sync.types import CheckResult, InboundEvent, PushResult, WebhookParse

log = logging.getLogger(__name__)

OUTAGE_RETRY = 60.0  # seconds between tries while the site is unreachable


class PictureUnavailable(RetryableError):
    """The deal's picture host failed, not the site: the row's attempts count."""


class SiteConnector(Connector):
    system = "site"
    title = _("Site (1C-Bitrix endpoint)")
    subscribes = frozenset({TEMPLATE, DATE})

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def accepts(self, connection: Connection, action: str, target_kind: str, target_id: int | None,
                origin: Connection | None) -> bool:
        """Only the site of the set-up the template or date belongs to."""
        model = EventTemplate if action == TEMPLATE else EventDate
        return model.objects.filter(pk=target_id, setup__site=connection).exists()

    def check_connection(self, connection: Connection) -> CheckResult:
        try:
            answer = SiteClient(connection).ping()
        except SyncError as exc:
            return CheckResult(ok=False, message=f"Сайт не отвечает как нужно: {exc}")
        name = f" ({answer['site']})" if answer.get("site") else ""
        return CheckResult(ok=True, message=f"Сайт отвечает{name}. Продажи он должен присылать на "
                                            f"{connection.webhook_path}")

    # ------------------------------------------------------------------ push
    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        """Templates before dates: a date needs its template's site id. The site's endpoint has
        no batch call, so one request per row."""
        client = SiteClient(connection)
        results: dict[int, PushResult] = {}
        for row in sorted(rows, key=lambda r: (r.action != TEMPLATE, r.pk)):
            model = EventTemplate if row.action == TEMPLATE else EventDate
            found = model.objects.select_related("setup__site", "setup__crm").filter(pk=row.target_id)
            if model is EventDate:  # the template's picture is not needed to bind a date to it
                found = found.select_related("template").defer("template__image")
            item = found.first()
            if item is None:
                results[row.pk] = PushResult(ok=False, retryable=False, error="the template or date no longer exists")
                continue
            try:
                if isinstance(item, EventTemplate):
                    results[row.pk] = self._push_template(client, item, row)
                else:
                    results[row.pk] = self._push_date(client, item, row)
            except SyncError as exc:
                results[row.pk] = self._failed(item, row, exc)
        return results

    def _failed(self, item: EventTemplate | EventDate, row: Outbox, exc: SyncError) -> PushResult:
        """An unreachable site is an outage, not this row's fault: retried every minute and
        never dead-lettered. A refusal (4xx) is final and shown in the deal, as is a picture
        host that keeps failing once the row's attempts are used up."""
        if isinstance(exc, PictureUnavailable):
            final = row.attempts >= max_attempts(row.connection)
            event_sync_failed(item, str(exc), final=final)
            return PushResult(ok=False, error=str(exc), retryable=not final)
        event_sync_failed(item, str(exc), final=not exc.retryable)
        if exc.retryable:
            return PushResult(ok=False, error=str(exc), retryable=True, rate_limited=True,
                              retry_after=exc.retry_after or OUTAGE_RETRY)
        return PushResult(ok=False, error=str(exc), retryable=False)

    def _push_template(self, client: SiteClient, template: EventTemplate, row: Outbox) -> PushResult:
        image, image_error, fresh = None, "", None
        if template.image_url:
            limit = template.setup.max_image_kb * 1024
            try:
                if template.image:  # downloaded for an earlier push of the same link
                    picture = image_check(bytes(template.image), limit, name=template.image_url)
                else:
                    picture = image_fetch(template.image_url, limit)
                    fresh = (template.image_url, picture.data, picture.content_type)
                image = (picture.name, picture.content_type, picture.data)
            except ImageUnavailable as exc:
                raise PictureUnavailable(f"картинка пока недоступна: {exc}") from exc
            except ImageRejected as exc:
                image_error = str(exc)
        body = mapping.template_body(template.title, template.description_html, image)
        site_id, _created = client.put_template(mapping.template_xml_id(template.pk), body)
        event_synced(template, site_id, self.outbound_fingerprint(row.action, row.payload), image_error=image_error,
                     image=fresh)
        return PushResult(ok=True, external_id=site_id)

    def _push_date(self, client: SiteClient, event: EventDate, row: Outbox) -> PushResult:
        template_id = site_id_of(event.template) if event.template else event.template_site_id
        if not template_id:
            if event.template is not None and event.template.sync_state == SyncState.REFUSED:
                error = "сайт не принял шаблон этого мероприятия"
                event_sync_failed(event, error, final=True)
                return PushResult(ok=False, error=error, retryable=False)
            error = "шаблон мероприятия ещё не на сайте"
            event_sync_failed(event, error, final=False)
            return PushResult(ok=False, error=error, retryable=True, rate_limited=True, retry_after=OUTAGE_RETRY)
        values: dict[str, Any] = dict(row.payload.get("values") or {})
        if "starts_at" in values:
            values["starts_at"] = _aware(values["starts_at"])
        site_id, _created = client.put_event(mapping.event_xml_id(event.pk), mapping.event_body(template_id, values))
        event_synced(event, site_id, self.outbound_fingerprint(row.action, row.payload))
        return PushResult(ok=True, external_id=site_id)

    # ------------------------------------------------------------------ webhook: ticket orders
    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        problem = mapping.signature_problem(str((connection.credentials or {}).get("secret") or ""),
                                            request.headers.get(mapping.TIMESTAMP_HEADER),
                                            request.headers.get(mapping.SIGNATURE_HEADER), request.body, time.time())
        if problem:
            raise WebhookRejected(problem, status=403)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        sale = mapping.sale_from_webhook(json_value(request))
        return WebhookParse(events=[InboundEvent(event_key=sale.event_key[:200], kind=f"site.{sale.type}",
                                                 payload=mapping.sale_to_payload(sale))],
                            response_body={"ok": True})

    def handle_inbox(self, row: Inbox, fetched: Any = None) -> dict[str, Any]:
        if row.connection is None:
            raise ValidationError("Событие без подключения.")
        sale = mapping.sale_from_payload(row.payload)
        data = SaleData(order_id=sale.order_id, site_event_id=sale.event_id, sold_at=sale.created_at,
                        refunded_at=(sale.refunded_at or row.received_at) if sale.refunded else None,
                        first_name=sale.first_name, last_name=sale.last_name, phone=sale.phone, email=sale.email,
                        lines=[TicketLine(product_id=t.product_id, name=t.name, price=t.price, quantity=t.quantity)
                               for t in sale.tickets])
        record, created = ticket_sale_record(row.connection, data)
        return {"sale": record.pk, "created": created, "linked": record.event_id is not None}


def _aware(value: str) -> dt.datetime | None:
    """The payload carries ISO text; the mapping formats datetimes itself."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise FatalError(f"bad event time in the outbox row: {value!r}") from exc
