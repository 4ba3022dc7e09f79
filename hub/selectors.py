"""Reads for status pages and the CLI, and the product category tree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q

from hub.models import Connection, Inbox, Outbox, ProductCategory


@dataclass(frozen=True)
class ConnectionStatus:
    connection: Connection
    queued: int
    failing: int
    dead: int
    inbox_failed: int
    last_pull_at: dt.datetime | None
    last_push_at: dt.datetime | None
    last_error: str


def connection_statuses() -> list[ConnectionStatus]:
    """Per connection: queue depth, retrying, dead letters, inbox failures, last syncs."""
    outbox = {
        row["connection_id"]: row
        for row in Outbox.objects.values("connection_id").annotate(
            queued=Count("pk", filter=Q(status__in=[Outbox.Status.PENDING, Outbox.Status.SENDING])),
            failing=Count("pk", filter=Q(status=Outbox.Status.FAILED)),
            dead=Count("pk", filter=Q(status=Outbox.Status.DEAD)),
        )
    }
    inbox = dict(
        Inbox.objects.filter(status=Inbox.Status.FAILED)
        .values("connection_id").annotate(n=Count("pk")).values_list("connection_id", "n")
    )
    result = []
    for connection in Connection.objects.order_by("name"):
        counts = outbox.get(connection.pk, {})
        result.append(ConnectionStatus(
            connection=connection, queued=counts.get("queued", 0), failing=counts.get("failing", 0),
            dead=counts.get("dead", 0),
            inbox_failed=inbox.get(connection.pk, 0), last_pull_at=connection.last_pull_at,
            last_push_at=connection.last_push_at, last_error=connection.last_error,
        ))
    return result


def category_tree() -> dict[int | None, list[int]]:
    """The category tree as parent → children, from one query."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in ProductCategory.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    return children


def category_subtree(roots: Iterable[int], tree: dict[int | None, list[int]] | None = None) -> set[int]:
    """The categories and all their subcategories (cycles stop); pass ``tree`` to read it once
    for many calls."""
    tree = category_tree() if tree is None else tree
    found: set[int] = set()
    stack = list(roots)
    while stack:
        pk = stack.pop()
        if pk not in found:
            found.add(pk)
            stack.extend(tree.get(pk, ()))
    return found
