"""Connections: create/update from admin or the CLI, check them, pull from them."""

from __future__ import annotations

import logging
import zoneinfo
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hub.locks import LockTimeout, named_lock
from hub.models import Connection, SyncCursor
from hub.sync import registry
from hub.sync.errors import SyncError
from hub.sync.types import CheckResult, Progress, PullReport

log = logging.getLogger(__name__)
PULL_BACKOFF_CAP = 3600
# Beat asks every 10 s; a pull is stamped when it ends, so "30 s since the last one" would be
# a moment short at the 30 s tick and wait for the 40 s one. Half a tick of slack keeps the
# operator's interval.
PULL_SLACK = 5.0
# With a poll interval of 0 (pull at every tick) failures must still back off.
PULL_BACKOFF_BASE = 10


def time_zone_check(name: str) -> None:
    """A readable error for a zone that does not exist (a typo would fail every job later)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError({"time_zone": f"Unknown time zone {name!r}."}) from exc


def connection_upsert(
    *,
    name: str,
    system: str | None = None,
    base_url: str | None = None,
    credentials: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    time_zone: str | None = None,
    enabled: bool | None = None,
    poll_interval: int | None = None,
    key: str | None = None,
) -> tuple[Connection, bool]:
    """Create or update by name; credentials and settings are merged key by key."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().filter(name=name).first()
        created = connection is None
        if created:
            if not system:
                raise ValidationError({"system": "A new connection needs a system."})
            connection = Connection(name=name)
        if system is not None:
            if registry.get(system) is None:
                known = ", ".join(s for s, _ in registry.systems())
                raise ValidationError({"system": f"Unknown system {system!r}; known: {known}."})
            connection.system = system
        if time_zone is not None:
            time_zone_check(time_zone)
            connection.time_zone = time_zone
        for field, value in (("base_url", base_url), ("enabled", enabled), ("poll_interval", poll_interval),
                             ("key", key)):
            if value is not None:
                setattr(connection, field, value)
        if credentials:
            connection.credentials = {**(connection.credentials or {}), **credentials}
        if settings:
            connection.settings = {**(connection.settings or {}), **settings}
        connection.full_clean()
        connection.save()
    return connection, created


def _connector(connection: Connection) -> Any:
    connector = registry.get(connection.system)
    if connector is None:
        raise ValidationError(f"No connector is installed for system {connection.system!r}.")
    return connector


def connection_check(connection: Connection) -> CheckResult:
    """Human-readable answer to "do these credentials work?"."""
    try:
        return _connector(connection).check_connection(connection)
    except ValidationError as exc:
        return CheckResult(ok=False, message="; ".join(exc.messages))
    except SyncError as exc:
        return CheckResult(ok=False, message=str(exc))


def connection_register_webhook(connection: Connection) -> CheckResult:
    """Point the system at this connection's webhook URL (where the system takes it by API)."""
    url = f"{django_settings.HUB_PUBLIC_URL}{connection.webhook_path}"
    try:
        return _connector(connection).register_webhook(connection, url)
    except ValidationError as exc:
        return CheckResult(ok=False, message="; ".join(exc.messages))


def connection_pull(connection: Connection, *, full: bool = False, progress: Progress | None = None) -> PullReport:
    """Pull once; never two pulls of one connection at a time (cursors would race)."""
    connector = _connector(connection)
    if not connector.can_pull:
        raise ValidationError(f"{connector.title} does not support pulling; it sends webhooks.")
    try:
        with named_lock(f"pull:{connection.pk}", timeout=60, wait=0.5 if not full else 60, renew=True):
            try:
                report = connector.pull(connection, full=full, progress=progress)
            except Exception as exc:  # recorded for admin / hub_status, then re-raised
                message = str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
                Connection.objects.filter(pk=connection.pk).update(
                    last_error=message[:2000], last_error_at=timezone.now(), pull_failures=F("pull_failures") + 1)
                raise
            Connection.objects.filter(pk=connection.pk).update(last_pull_at=timezone.now(), pull_failures=0)
            return report
    except LockTimeout:
        log.info("pull of connection %s already running", connection.pk)
        return PullReport(done=False)


def pull_wait(connection: Connection) -> float:
    """Seconds between pulls now: an outage is not hammered, every failed pull in a row doubles
    the wait, up to an hour (or the poll interval, if longer)."""
    if not connection.pull_failures:
        return connection.poll_interval
    return min(max(connection.poll_interval, PULL_BACKOFF_BASE) * 2 ** min(connection.pull_failures, 10),
               max(PULL_BACKOFF_CAP, connection.poll_interval))


def connections_due_for_pull(now: Any = None) -> list[Connection]:
    now = now or timezone.now()
    due = []
    for connection in Connection.objects.filter(enabled=True):
        connector = registry.get(connection.system)
        if connector is None or not connector.can_pull:
            continue
        last = max([t for t in (connection.last_pull_at, connection.last_error_at) if t], default=None)
        if last is None or (now - last).total_seconds() >= pull_wait(connection) - PULL_SLACK:
            due.append(connection)
    return due


def cursor_get(connection: Connection, entity: str) -> str:
    return SyncCursor.objects.filter(connection=connection, entity=entity).values_list("value", flat=True).first() or ""


def cursor_set(connection: Connection, entity: str, value: str) -> None:
    SyncCursor.objects.update_or_create(connection=connection, entity=entity, defaults={"value": value})
