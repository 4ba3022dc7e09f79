"""Thin Celery tasks: take ids, call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from hub.history import history_deduplicate
from hub.models import Connection
from hub.services.connections import connection_pull, connections_due_for_pull
from hub.services.contacts import contacts_publish
from hub.services.inbox import inbox_process, inbox_retry_failed
from hub.services.lifecycle import lifecycle_daily
from hub.services.outbox import outbox_drain
from hub.sync.errors import SyncError

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def inbox_process_task(inbox_id: int) -> str:
    return inbox_process(inbox_id).status


@shared_task
def inbox_retry_task() -> int:
    return inbox_retry_failed()


@shared_task(acks_late=True)
def outbox_drain_task(max_batches: int = 20) -> int:
    """Drain until the queue is empty or ``max_batches`` were sent (then beat comes back)."""
    total = 0
    for _ in range(max_batches):
        report = outbox_drain()
        total += report.total
        if report.total == 0:
            break
    return total


@shared_task(acks_late=True)
def contacts_publish_task(contact_ids: list[int]) -> int:
    return contacts_publish(contact_ids)


@shared_task
def connections_pull_due_task() -> int:
    due = connections_due_for_pull()
    for connection in due:
        connection_pull_task.delay(connection.pk)
    return len(due)


@shared_task(acks_late=True)
def connection_pull_task(connection_id: int) -> dict:
    """A failed pull is recorded on the connection (admin, hub_status) and retried at the
    next interval; it is not a crash of the worker."""
    connection = Connection.objects.get(pk=connection_id)
    try:
        counts = connection_pull(connection).counts
    except SyncError as exc:
        log.warning("pull of connection %s failed: %s", connection_id, exc)
        return {"error": str(exc)}
    if any(counts.values()):
        outbox_drain_task.delay()  # what the pull brought goes on now, not at the next drain tick
    return counts


@shared_task(name="hub.history_deduplicate")
def history_deduplicate_task() -> None:
    history_deduplicate()


@shared_task(name="hub.lifecycle_daily")
def lifecycle_daily_task() -> int:
    """Lifecycle stages and segment sizes, daily; returns how many clients changed stage."""
    return lifecycle_daily()
