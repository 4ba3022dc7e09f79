"""The interface every connector implements; the sync engine calls only these methods.

Register an instance with ``hub.sync.registry.register`` from the connector app's
``AppConfig.ready``.
"""

from __future__ import annotations

from abc import ABC
from typing import Any

from django.http import HttpRequest

from connectors.base.ratelimit import RateLimiter
from hub.models import Connection, Inbox, Outbox
from hub.services.external_refs import fingerprint
from hub.sync.errors import WebhookRejected
from hub.sync.types import CheckResult, Progress, PullReport, PushResult, WebhookParse


class Connector(ABC):  # noqa: B024 - every method has a safe default; override what applies
    system: str = ""
    title: str = ""
    #: Outbox actions this connector accepts (e.g. {"contact.upsert"}).
    subscribes: frozenset[str] = frozenset()
    #: True when the system is polled (``pull``) rather than pushing webhooks to us.
    can_pull: bool = False

    def accepts(self, connection: Connection, action: str, target_kind: str, target_id: int | None,
                origin: Connection | None) -> bool:
        """Whether this connection wants this change at all (e.g. only contacts it already
        knows, unless the operator turned creation on)."""
        return True

    def outbound_fingerprint(self, action: str, payload: dict[str, Any]) -> str:
        """Hash of what this system will hold after the push, in the same shape the
        connector fingerprints inbound data — so an echo of our own write is recognised."""
        return fingerprint(payload)

    def rate_limiter(self, connection: Connection) -> RateLimiter | None:
        """The shared limiter this connection's client waits on (the dashboard shows its free
        slots); None for systems we do not call."""
        return None

    def check_connection(self, connection: Connection) -> CheckResult:
        return CheckResult(ok=False, message=f"{self.title}: connection check is not available.")

    def register_webhook(self, connection: Connection, url: str) -> CheckResult:
        """Tell the system where to send its webhooks, for systems that take it by API (a bot's
        ``setWebhook``); the others are configured on their side with the URL from admin."""
        return CheckResult(ok=False, message=f"{self.title}: адрес вебхука указывается в самой системе: {url}")

    def pull(self, connection: Connection, *, full: bool = False, progress: Progress | None = None) -> PullReport:
        raise NotImplementedError(f"{self.title} is not polled")

    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        """Send rows (one connection's), answer per row id. Raise SyncError for the whole batch."""
        return {row.pk: PushResult(ok=False, retryable=False, error=f"{self.title} accepts no pushes")
                for row in rows}

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        """Raise WebhookRejected (403) when the request is not from the system."""
        raise WebhookRejected(f"{self.title} does not send webhooks.", status=404)

    def redact(self, raw_body: str, request: HttpRequest) -> str:
        """The raw body as it may be kept in the Inbox: secrets a system sends along removed."""
        return raw_body

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        raise WebhookRejected(f"{self.title} does not send webhooks.", status=404)

    def fetch_for_inbox(self, row: Inbox) -> Any:
        """Read what the event needs from the system (webhooks are often partial). Runs
        outside any transaction, before ``handle_inbox``; its answer is passed there."""
        return None

    def inbox_lock_name(self, row: Inbox) -> str:
        """The remote record this event is about, when it is read from the system at processing
        time: events of one record are then processed one at a time (an older read must not be
        applied after a newer one). "" = no such ordering needed."""
        return ""

    def handle_inbox(self, row: Inbox, fetched: Any = None) -> Any:
        """Apply one stored event to the domain (runs in a transaction, in a task)."""
        raise NotImplementedError(f"{self.title} has no inbox handler")
