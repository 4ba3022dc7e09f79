"""Generic HTTP connector: pushes contact changes, pulls contacts, receives signed events."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from connectors.base.connector import Connector
from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post, verify_hmac
from connectors.webhook.client import WebhookClient, limiter_for
from connectors.webhook.mapping import contact_from_remote, contact_values, event_to_remote
from hub.models import Connection, Inbox, Outbox
from hub.services.connections import cursor_get, cursor_set
from hub.services.contacts import contact_upsert
from hub.services.external_refs import external_ref_is_echo, fingerprint
from hub.services.inbox import inbox_ingest
from hub.sync.errors import FatalError, SyncError, WebhookRejected
from hub.sync.types import CheckResult, InboundEvent, Progress, PullReport, PushResult, WebhookParse

log = logging.getLogger(__name__)
PAGE = 200


class WebhookConnector(Connector):
    system = "webhook"
    title = _("Generic HTTP")
    subscribes = frozenset({"contact.upsert", "contact.merged"})
    can_pull = True

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def outbound_fingerprint(self, action: str, payload: dict) -> str:
        return fingerprint(contact_values(payload)) if action == "contact.upsert" else fingerprint(payload)

    def check_connection(self, connection: Connection) -> CheckResult:
        try:
            WebhookClient(connection).ping()
        except SyncError as exc:
            return CheckResult(ok=False, message=f"Не удалось подключиться: {exc}")
        return CheckResult(ok=True, message="Подключение работает.")

    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        now = timezone.now()
        events = [event_to_remote(r.pk, r.action, r.payload, now) for r in rows]
        results = {res.get("id"): res for res in WebhookClient(connection).send_events(events)}
        outcome = {}
        for row, event in zip(rows, events, strict=True):
            res = results.get(event["id"])
            if res is None:
                outcome[row.pk] = PushResult(ok=False, error="no result for this event in the answer")
            elif res.get("status") == "ok":
                outcome[row.pk] = PushResult(ok=True, external_id=str(res.get("external_id") or ""))
            else:
                outcome[row.pk] = PushResult(ok=False, retryable=False, error=str(res.get("error") or res))
        return outcome

    def pull(self, connection: Connection, *, full: bool = False, progress: Progress | None = None) -> PullReport:
        client = WebhookClient(connection)
        cursor = "" if full else cursor_get(connection, "contacts")
        report = PullReport()
        done = 0
        while True:
            items, next_cursor = client.list_contacts(cursor, PAGE)
            if not items:
                break
            if next_cursor == cursor:
                raise FatalError("the system returned items without moving its cursor; stopping to avoid a loop")
            for item in items:
                # Through the Inbox: raw record kept; a bad one is rejected there and the pull goes on.
                row, _ = inbox_ingest(connection=connection, kind="contact.upsert", payload={"data": item},
                                   event_key=f"pull:contacts:{item.get('id')}:{item.get('updated_at')}")
                report.add("contacts" if row.status == Inbox.Status.PROCESSED else f"contacts {row.status}")
                done += 1
            cursor = next_cursor
            cursor_set(connection, "contacts", cursor)
            if progress:
                progress("contacts", done, None)
        return report

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        require_post(request)
        verify_hmac(connection.credentials.get("secret", ""), request.body, request.headers.get("X-Hub-Signature"))

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        body = json_body(request)
        missing = [k for k in ("id", "type") if not body.get(k)]
        if missing:
            raise WebhookRejected(f"Missing field(s): {', '.join(missing)}.")
        if not isinstance(body.get("data", {}), dict):
            raise WebhookRejected("Field 'data' must be an object.")
        return WebhookParse(events=[InboundEvent(str(body["id"]), str(body["type"]), body)])

    def handle_inbox(self, row: Inbox, fetched: Any = None) -> None:
        if row.kind == "contact.upsert":
            self._apply_contact(row.connection, row.payload.get("data") or {})
        else:
            log.info("inbox %s: event type %s ignored", row.pk, row.kind)

    def _apply_contact(self, connection: Connection, data: dict) -> None:
        their_id = str(data.get("id") or "")
        values = contact_values(data)
        if their_id and external_ref_is_echo(connection, "contact", their_id, values):
            return
        contact_upsert(contact_from_remote(data), connection=connection, external_id=their_id or None,
                       external_values=values)
