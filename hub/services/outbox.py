"""Outbox: publish domain changes to subscribing connections; drain them reliably.

Rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` in a short transaction and a
conditional UPDATE (status still due), then sent outside any transaction under a lease.
On PostgreSQL many drains cooperate without contention; on SQLite the conditional UPDATE
alone keeps a row from being claimed twice. A worker that dies mid-send leaves a
``sending`` row whose lease expires; it is claimed again (at-least-once).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from hub.models import Connection, Outbox
from hub.services.external_refs import external_ref_for_local, external_refs_link_many
from hub.sync import registry
from hub.sync.errors import RateLimited, SyncError
from hub.sync.types import PushResult

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = 24 * 3600.0  # a provider's Retry-After beyond a day is not believed


def outbox_publish(
    action: str,
    target_kind: str,
    target_id: int | None,
    payload: dict[str, Any],
    *,
    origin: Connection | None = None,
    not_before: dt.datetime | None = None,
) -> list[Outbox]:
    """Queue ``action`` for every enabled connection whose connector subscribes to it.

    Skips the connection the change came from, and any connection that already holds
    exactly these values (fingerprint on its ExternalRef) — no echo, no ping-pong.
    For state-carrying actions (``*.upsert``) only the newest state matters: a still
    pending row takes the new payload, and older unsent rows (waiting for a retry) are
    superseded, so an old value can never overwrite a newer one remotely.
    Event actions (``contact.merged``…) always get a row of their own. ``not_before`` holds
    a row back so that what follows it closely can travel in the same batch.
    """
    systems = registry.subscribers(action)
    if not systems:
        return []
    rows = []
    stateful = action.endswith(".upsert") and target_id is not None
    for connection in Connection.objects.filter(enabled=True, system__in=systems):
        if origin is not None and connection.pk == origin.pk:
            continue
        connector = registry.get(connection.system)
        if not connector.accepts(connection, action, target_kind, target_id, origin):
            continue
        unsent = Outbox.objects.filter(connection=connection, action=action, target_kind=target_kind,
                                       target_id=target_id)
        if stateful:
            ref = external_ref_for_local(connection, target_kind, target_id)
            digest = connector.outbound_fingerprint(action, payload)
            # A change still being sent may leave them holding something else: then this goes too.
            if ref and ref.fingerprint == digest and not unsent.filter(status=Outbox.Status.SENDING).exists():
                unsent.filter(status__in=[Outbox.Status.PENDING, Outbox.Status.FAILED]).update(
                    status=Outbox.Status.SKIPPED, last_error="they already hold these values")
                continue
            unsent.filter(status=Outbox.Status.FAILED).update(
                status=Outbox.Status.SKIPPED, last_error="superseded by a newer change")
            pending = unsent.filter(status=Outbox.Status.PENDING).order_by("-pk").first()
            # Conditional: a drain may claim the row between our read and this write.
            if pending and unsent.filter(pk=pending.pk, status=Outbox.Status.PENDING).update(payload=payload):
                pending.payload = payload
                rows.append(pending)
                continue
        rows.append(Outbox.objects.create(connection=connection, action=action, target_kind=target_kind,
                                          target_id=target_id, payload=payload,
                                          next_attempt_at=not_before or timezone.now()))
    return rows


def _due(now: dt.datetime) -> Q:
    waiting = Q(status__in=[Outbox.Status.PENDING, Outbox.Status.FAILED], next_attempt_at__lte=now)
    abandoned = Q(status=Outbox.Status.SENDING, locked_until__lt=now)
    return waiting | abandoned


def _in_flight(now: dt.datetime) -> QuerySet[Outbox]:
    """A row of the same target still being sent by another worker: a change that followed it
    (a deal created, then linked) waits, or both would create the deal."""
    return Outbox.objects.filter(status=Outbox.Status.SENDING, locked_until__gte=now,
                                 connection=OuterRef("connection"), action=OuterRef("action"),
                                 target_kind=OuterRef("target_kind"), target_id=OuterRef("target_id"))


def outbox_claim(limit: int, *, now: dt.datetime | None = None, only: Iterable[int] | None = None) -> list[Outbox]:
    """Take up to ``limit`` due rows for this worker (of ``only`` these ids, when given); no
    other worker gets them."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    due = Outbox.objects.filter(_due(now), connection__enabled=True)
    if only is not None:
        due = due.filter(pk__in=list(only))
    with transaction.atomic():
        ids = list(
            # OF self + NO KEY: lock only outbox rows, never the connection rows the join reads.
            due.select_for_update(skip_locked=True, of=("self",), no_key=True)
            .exclude(Exists(_in_flight(now)))
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        # attempts count claims, so a row whose worker keeps dying mid-send still goes dead.
        Outbox.objects.filter(_due(now), pk__in=ids).update(
            status=Outbox.Status.SENDING,
            attempts=F("attempts") + 1,
            claim_token=token,
            locked_until=now + dt.timedelta(seconds=settings.HUB_OUTBOX_LEASE_SECONDS),
        )
    return list(Outbox.objects.filter(claim_token=token, status=Outbox.Status.SENDING)
                .select_related("connection").order_by("pk"))


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.dead


def backoff_delay(attempts: int) -> float:
    """Capped exponential backoff with jitter, in seconds (attempt 1 → ~base)."""
    raw = min(settings.HUB_OUTBOX_BACKOFF_CAP, settings.HUB_OUTBOX_BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return raw * random.uniform(0.5, 1.0)


def max_attempts(connection: Connection) -> int:
    return int(connection.settings.get("max_attempts") or settings.HUB_OUTBOX_MAX_ATTEMPTS)


def outbox_drain(limit: int | None = None, *, only: Iterable[int] | None = None) -> DrainReport:
    """Claim one batch and send it, grouped by connection through the connector's push_batch.
    ``only``: send these rows now if they are due (an operator's test), none of the others."""
    report = DrainReport()
    rows = outbox_claim(limit or settings.HUB_OUTBOX_BATCH, only=only)
    by_connection: dict[int, list[Outbox]] = defaultdict(list)
    for row in rows:
        by_connection[row.connection_id].append(row)
    for batch in by_connection.values():
        _send_batch(batch[0].connection, batch, report)
    return report


def _send_batch(connection: Connection, rows: list[Outbox], report: DrainReport) -> None:
    connector = registry.get(connection.system)
    if connector is None:
        results = {r.pk: PushResult(ok=False, error=f"no connector for system {connection.system!r}",
                                    retryable=False) for r in rows}
    else:
        try:
            results = connector.push_batch(connection, rows)
        except SyncError as exc:
            results = {r.pk: PushResult(ok=False, error=str(exc), retryable=exc.retryable,
                                        retry_after=exc.retry_after, rate_limited=isinstance(exc, RateLimited))
                       for r in rows}
        except Exception as exc:
            log.exception("push_batch crashed for connection %s", connection.pk)
            results = {r.pk: PushResult(ok=False, error=f"{type(exc).__name__}: {exc}") for r in rows}
    now = timezone.now()
    any_ok = False
    links: list[tuple[str, int, str, str]] = []
    with transaction.atomic():  # one commit for the batch's outcomes, not one per row
        for row in rows:
            result = results.get(row.pk) or PushResult(ok=False, error="connector returned no result for this row")
            ok = _record_result(row, result, now, report)
            any_ok |= ok
            if ok and result.external_id and row.target_id is not None and row.target_kind:
                digest = result.fingerprint or connector.outbound_fingerprint(row.action, row.payload)
                links.append((row.target_kind, row.target_id, result.external_id, digest))
        if links:
            external_refs_link_many(connection, links)
    if any_ok:
        Connection.objects.filter(pk=connection.pk).update(last_push_at=now)
    else:
        errors = [results[r.pk].error for r in rows if r.pk in results and results[r.pk].error]
        if errors:
            Connection.objects.filter(pk=connection.pk).update(last_error=errors[0][:2000], last_error_at=now)


def _record_result(row: Outbox, result: PushResult, now: dt.datetime, report: DrainReport) -> bool:
    """Store one row's outcome; False too when our lease was lost (another drain owns it now)."""
    attempts = row.attempts  # counted at claim time…
    if result.rate_limited:
        attempts -= 1  # …except when the provider only asked us to slow down
    mine = Outbox.objects.filter(pk=row.pk, claim_token=row.claim_token, status=Outbox.Status.SENDING)
    if result.ok:
        if not mine.update(status=Outbox.Status.SENT, sent_at=now, locked_until=None, last_error="",
                           external_id=result.external_id[:128]):
            log.warning("outbox %s: lease lost before the result was stored", row.pk)
            return False
        report.sent += 1
        return True
    dead = not result.retryable or (attempts >= max_attempts(row.connection) and not result.rate_limited)
    delay = result.retry_after if result.retry_after is not None else backoff_delay(attempts)
    delay = min(max(delay, 0.0), MAX_RETRY_DELAY)
    if not mine.update(status=Outbox.Status.DEAD if dead else Outbox.Status.FAILED, attempts=attempts,
                       next_attempt_at=now + dt.timedelta(seconds=delay), locked_until=None,
                       last_error=result.error[:4000]):
        log.warning("outbox %s: lease lost before the result was stored", row.pk)
        return False
    if dead:
        report.dead += 1
        log.warning("outbox %s dead after %s attempts: %s", row.pk, attempts, result.error[:200])
    else:
        report.retried += 1
    return False


def outbox_replay(ids: Iterable[int]) -> int:
    """Send dead or failed rows again from scratch (admin action)."""
    return Outbox.objects.filter(
        pk__in=list(ids), status__in=[Outbox.Status.DEAD, Outbox.Status.FAILED, Outbox.Status.SKIPPED]
    ).update(status=Outbox.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), claim_token="",
             locked_until=None)
