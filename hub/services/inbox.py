"""Inbox: every inbound event is stored (idempotently) before it is acknowledged, then
processed in a task, exactly once in effect: handler and status change share a transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from contextlib import ExitStack
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hub.locks import LockTimeout, named_lock
from hub.models import Connection, Inbox
from hub.sync import registry

log = logging.getLogger(__name__)

RAW_BODY_LIMIT = 256 * 1024


STUCK_AFTER = 300  # seconds a "received" row may wait for its task before the sweep re-enqueues it
# Seconds a worker waits while another processes an event of the same record; short, as a
# waiting worker serves nobody else (the holder may itself wait on the CRM's rate limit).
ENTITY_LOCK_WAIT = 5.0
ENTITY_LOCK_TTL = 60.0  # a crashed holder frees the record this much later (renewed while held)


def _enqueue(inbox_id: int) -> None:
    from hub.tasks import inbox_process_task  # tasks import services; enqueue lazily

    # robust: a broker hiccup after commit must not turn a stored event into a 500;
    # the sweep (inbox_retry_failed) picks the row up later.
    transaction.on_commit(lambda: inbox_process_task.delay(inbox_id), robust=True)


def inbox_source(connection: Connection) -> str:
    return f"{connection.system}:{connection.pk}"


def _key(event_key: str) -> str:
    """Keys longer than the column are hashed, never truncated (two keys must not collide)."""
    if len(event_key) <= 200:
        return event_key
    return "sha256:" + hashlib.sha256(event_key.encode()).hexdigest()


def inbox_receive(
    *,
    source: str,
    event_key: str,
    payload: dict[str, Any],
    kind: str = "",
    connection: Connection | None = None,
    headers: dict[str, str] | None = None,
    raw_body: str = "",
    process: bool = True,
) -> tuple[Inbox, bool]:
    """Store the event unless (source, event_key) is already there; returns (row, created)."""
    key = _key(event_key)
    fields = {"source": source, "event_key": key, "kind": kind[:64], "payload": payload, "connection": connection,
              "headers": headers or {}, "raw_body": raw_body[:RAW_BODY_LIMIT].replace("\x00", "\ufffd")}
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint: a duplicate must not break the caller's transaction
                row = Inbox.objects.create(**fields)
        else:  # autocommit: the INSERT commits by itself, one round trip instead of three
            row = Inbox.objects.create(**fields)
    except IntegrityError:
        existing = Inbox.objects.filter(source=source, event_key=key).first()
        if existing is None:  # not a duplicate: the payload itself was refused by the database
            raise
        return existing, False
    if process:
        _enqueue(row.pk)
    return row, True


def inbox_ingest(*, connection: Connection, event_key: str, kind: str,
                 payload: dict[str, Any]) -> tuple[Inbox, bool]:
    """A pulled record: stored like a webhook event (raw kept, idempotent), processed now.
    Returns (row, new): ``new`` is False for a record already seen with the same key."""
    row, created = inbox_receive(source=inbox_source(connection), event_key=event_key, kind=kind, payload=payload,
                                 connection=connection, process=False)
    if row.status in (Inbox.Status.RECEIVED, Inbox.Status.FAILED):
        row = inbox_process(row.pk)
    return row, created


def inbox_reject(
    *,
    source: str,
    raw_body: str,
    reason: str,
    connection: Connection | None = None,
    headers: dict[str, str] | None = None,
    event_key: str = "",
    kind: str = "",
) -> Inbox:
    """Keep a refused request for audit; the same bad body twice is one row."""
    key = event_key or "rejected:" + hashlib.sha256(raw_body.encode(errors="replace")).hexdigest()
    row, created = inbox_receive(source=source, event_key=key, payload={}, kind=kind, connection=connection,
                                 headers=headers, raw_body=raw_body, process=False)
    if created or row.status != Inbox.Status.PROCESSED:
        Inbox.objects.filter(pk=row.pk).update(status=Inbox.Status.REJECTED, error=reason[:4000])
    return row


def inbox_process(inbox_id: int) -> Inbox:
    """Run the connector's handler once; validation errors reject, others fail for retry.

    Remote reads (a CRM contact behind a webhook) happen first, outside any transaction:
    a token refreshed on the way must be committed at once, whatever the handler does.
    Events about one remote record (the connector names it) are processed one at a time, read
    and apply together: a worker that read the record earlier cannot apply its older read after
    another worker applied a newer one. A row that waited too long fails and is retried.
    """
    row = Inbox.objects.select_related("connection").get(pk=inbox_id)
    if row.status in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED):
        return row
    connector = registry.get(row.connection.system) if row.connection else None
    name = connector.inbox_lock_name(row) if connector is not None else ""
    with ExitStack() as held:
        if name:
            try:
                held.enter_context(named_lock(f"inbox:{name}", timeout=ENTITY_LOCK_TTL, wait=ENTITY_LOCK_WAIT,
                                              renew=True))
            except LockTimeout:
                return _busy(inbox_id)
        return _process(inbox_id, connector)


def _busy(inbox_id: int) -> Inbox:
    """Another worker kept the record's lock past our wait: the sweep retries this one. No
    attempt is used up: being busy is not the event's fault, and a busy record must not make
    its events give up."""
    with transaction.atomic():
        row = Inbox.objects.select_for_update(of=("self",)).select_related("connection").get(pk=inbox_id)
        if row.status not in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED):
            row.status, row.error = Inbox.Status.FAILED, "another event of the same record was being processed"
            row.save(update_fields=["status", "error"])
    return row


def _process(inbox_id: int, connector: Any) -> Inbox:
    row = Inbox.objects.select_related("connection").get(pk=inbox_id)  # again: it may be done meanwhile
    if row.status in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED):
        return row
    fetched, fetch_error = None, ""
    if connector is not None:
        try:
            fetched = connector.fetch_for_inbox(row)
        except Exception as exc:  # noqa: BLE001 - stored and retried, never lost
            fetch_error = f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        row = Inbox.objects.select_for_update(of=("self",)).select_related("connection").get(pk=inbox_id)
        if row.status in (Inbox.Status.PROCESSED, Inbox.Status.REJECTED):
            return row
        row.attempts += 1
        if connector is None or fetch_error:
            row.status, row.error = Inbox.Status.FAILED, fetch_error or "no connector to process this event"
            row.save(update_fields=["status", "attempts", "error"])
            return row
        try:
            with transaction.atomic():
                connector.handle_inbox(row, fetched)
        except ValidationError as exc:
            row.status, row.error = Inbox.Status.REJECTED, "; ".join(exc.messages)[:4000]
        except Exception as exc:  # noqa: BLE001 - stored and retried, never lost
            log.warning("inbox %s failed: %s", row.pk, type(exc).__name__)
            row.status, row.error = Inbox.Status.FAILED, f"{type(exc).__name__}: {exc}"[:4000]
        else:
            row.status, row.error, row.processed_at = Inbox.Status.PROCESSED, "", timezone.now()
        row.save(update_fields=["status", "attempts", "error", "processed_at"])
    return row


def inbox_retry_failed() -> int:
    """Re-enqueue failed rows with attempts left, and rows whose task never ran (beat, every minute)."""
    stuck_before = timezone.now() - dt.timedelta(seconds=STUCK_AFTER)
    ids = list(
        Inbox.objects.filter(
            Q(status=Inbox.Status.FAILED, attempts__lt=settings.HUB_INBOX_MAX_ATTEMPTS)
            | Q(status=Inbox.Status.RECEIVED, received_at__lt=stuck_before)
        ).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        _enqueue(pk)
    return len(ids)


def inbox_replay(ids: Iterable[int]) -> int:
    """Admin action: process failed or rejected events again (e.g. after fixing a mapping)."""
    rows = list(Inbox.objects.filter(pk__in=list(ids)).exclude(status=Inbox.Status.PROCESSED)
                .values_list("pk", flat=True))
    with transaction.atomic():
        Inbox.objects.filter(pk__in=rows).update(status=Inbox.Status.RECEIVED, attempts=0, error="")
        for pk in rows:
            _enqueue(pk)
    return len(rows)
