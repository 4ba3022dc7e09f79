"""Reads for the operators' dashboard on the admin index: per connection health, queues,
recent failures with links to where they are replayed, rate-limit headroom, and events in
and out per hour.

A fixed number of queries whatever the number of connections or rows (everything is
grouped in the database); rate-limit headroom is read from the limiter store (memory or
Redis), not the database. The hub never imports a connector: limiters come through
``hub.sync.registry`` and ``Connector.rate_limiter``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncHour
from django.urls import reverse
from django.utils import timezone

from hub.models import Connection, Contact, Inbox, Outbox
from hub.reports import BarSpec, Chart, GroupSpec, bar_chart
from hub.services.connections import pull_wait
from hub.sync import registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thresholds:
    """When a connection is shown red, in one place. A card is red when any holds:

    - the connection is disabled (nothing is pulled or sent for it);
    - its last error is newer than its last successful pull or push (or it never succeeded);
    - ``window`` (24 h): an outbox row created in it went dead, or an inbox event received in
      it failed processing — older dead letters are still counted and linked, but do not keep
      the card red for ever;
    - a polled connection was not pulled (successfully or not) for longer than
      ``pull_stale_factor`` × the scheduler's current wait — its ``poll_interval`` doubled per
      failed pull in a row, as ``hub.services.connections.connections_due_for_pull`` waits —
      and at least ``pull_stale_min`` (a pull in progress takes a while to record);
    - an outbox row has been due for sending (or its sender's lease ran out) for longer than
      ``queue_stale``: the drain is not keeping up or no worker runs;
    - an inbox event has waited for processing for longer than ``inbox_stale``.
    """

    window: dt.timedelta = dt.timedelta(hours=24)
    pull_stale_factor: int = 3
    pull_stale_min: dt.timedelta = dt.timedelta(minutes=2)
    queue_stale: dt.timedelta = dt.timedelta(minutes=15)
    inbox_stale: dt.timedelta = dt.timedelta(minutes=15)


THRESHOLDS = Thresholds()
CHART_HOURS = 24
ERROR_CHARS = 200

_OUTBOX_OPEN = [Outbox.Status.PENDING, Outbox.Status.SENDING, Outbox.Status.FAILED, Outbox.Status.DEAD]
_WINDOW_UNITS = {"second": ("в секунду", "с"), "minute": ("в минуту", "мин"), "hour": ("в час", "ч"),
                 "day": ("в сутки", "дн"), "month": ("в месяц", "мес"), "year": ("в год", "г")}


@dataclass(frozen=True)
class Tally:
    """A number on the dashboard and the admin list of exactly those rows (Replay is there)."""

    count: int
    url: str


@dataclass(frozen=True)
class Headroom:
    """Free slots in the current window of a connection's shared rate limiter."""

    free: int
    limit: int
    window: str  # "в секунду", "за 5 с"

    def __str__(self) -> str:
        return f"{self.free} из {self.limit} {self.window}"


@dataclass
class ConnectionRow:
    connection: Connection
    title: str
    polled: bool  # pulled on a schedule (Connector.can_pull)
    pushed: bool  # takes outbox rows (Connector.subscribes)
    queued: Tally  # outbox pending or being sent
    retrying: Tally  # outbox failed, will retry
    inbox_waiting: Tally  # received, not processed yet
    failed_recent: Tally  # outbox failed, created in the window
    dead_recent: Tally
    dead_older: Tally
    inbox_failed_recent: Tally
    inbox_failed_older: Tally
    inbox_rejected_recent: Tally
    events_in: int  # over the chart's hours
    events_out: int
    headroom: Headroom | None
    last_error: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Dashboard:
    now: dt.datetime
    since: dt.datetime  # start of the failure window
    rows: list[ConnectionRow]
    chart: Chart | None
    hours: list[tuple[dt.datetime, int, int]]  # (local hour start, in, out)
    events_in: int
    events_out: int
    contacts_total: int
    contacts_today: int
    thresholds: Thresholds

    @property
    def problems(self) -> int:
        return sum(1 for row in self.rows if not row.ok)


def rate_window(item: Any) -> str:
    """"в секунду" for 7/second, "за 5 с" for 500/5 seconds (a ``limits`` rate item)."""
    name = item.GRANULARITY.name
    per, short = _WINDOW_UNITS.get(name, (name, name))
    return per if item.multiples == 1 else f"за {item.multiples} {short}"


def connection_headroom(connection: Connection, connector: Any) -> Headroom | None:
    """Free slots of the limiter the connection's client waits on; None when the system has
    none, or the store cannot be read (the dashboard must still open when Redis is down)."""
    get_limiter = getattr(connector, "rate_limiter", None)
    if get_limiter is None:
        return None
    try:
        limiter = get_limiter(connection)
        if limiter is None:
            return None
        return Headroom(free=max(limiter.headroom(), 0), limit=limiter.item.amount, window=rate_window(limiter.item))
    except Exception as exc:  # noqa: BLE001 - a bad rate setting or an unreachable store: show "—"
        log.warning("rate limit headroom of connection %s unreadable: %s", connection.pk, type(exc).__name__)
        return None


def _link(name: str, **params: object) -> str:
    return f"{reverse(name)}?{urlencode(params)}"


def _stamp(value: dt.datetime) -> str:
    """A window boundary as the admin filter reads it: local time, whole seconds, offset."""
    return timezone.localtime(value).isoformat()


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} мин"
    if minutes < 48 * 60:
        return f"{minutes // 60} ч"
    return f"{minutes // 1440} дн"


def _period(seconds: float) -> str:
    return f"{int(seconds)} с" if seconds < 120 else _ago(seconds)


def connection_problems(connection: Connection, connector: Any, *, now: dt.datetime, dead_recent: int,
                        inbox_failed_recent: int, queue_due_since: dt.datetime | None,
                        inbox_waiting_since: dt.datetime | None, thresholds: Thresholds = THRESHOLDS) -> list[str]:
    """Why this connection is red (see ``Thresholds``); empty when all is well."""
    problems = []
    if connector is None:
        problems.append(f"Коннектор «{connection.system}» не установлен — подключение не работает")
    if not connection.enabled:
        problems.append("Подключение выключено: данные не забираются и не отправляются")
    success = max([t for t in (connection.last_pull_at, connection.last_push_at) if t], default=None)
    if connection.last_error and connection.last_error_at and (success is None or connection.last_error_at > success):
        problems.append("Последняя ошибка новее последнего успешного обмена")
    if dead_recent:
        problems.append(f"Не доставлено окончательно за {_ago(thresholds.window.total_seconds())}: {dead_recent}")
    if inbox_failed_recent:
        problems.append(f"Входящих событий с ошибкой обработки за {_ago(thresholds.window.total_seconds())}: "
                        f"{inbox_failed_recent}")
    if connection.enabled and connector is not None and connector.can_pull and connection.pull_failures:
        # A push that still succeeds must not hide pulls that keep failing.
        problems.append(f"Забор данных не удаётся {connection.pull_failures} раз(а) подряд")
    if connection.enabled and connector is not None and connector.can_pull:
        last = max([t for t in (connection.last_pull_at, connection.last_error_at) if t],
                   default=connection.created_at)
        wait = pull_wait(connection)
        limit = max(thresholds.pull_stale_factor * wait, thresholds.pull_stale_min.total_seconds())
        idle = (now - last).total_seconds()
        if idle > limit:
            problems.append(f"Опрос запаздывает: последняя попытка {_ago(idle)} назад, "
                            f"ожидалась каждые {_period(wait)}")
    if connection.enabled and queue_due_since and now - queue_due_since > thresholds.queue_stale:
        problems.append(f"Исходящие ждут отправки {_ago((now - queue_due_since).total_seconds())} "
                        f"(дольше {_ago(thresholds.queue_stale.total_seconds())})")
    if inbox_waiting_since and now - inbox_waiting_since > thresholds.inbox_stale:
        problems.append(f"Входящие события ждут обработки {_ago((now - inbox_waiting_since).total_seconds())} "
                        f"(дольше {_ago(thresholds.inbox_stale.total_seconds())})")
    return problems


def _chart_start(now: dt.datetime) -> dt.datetime:
    """Start of the first of the last ``CHART_HOURS`` whole hours in settings.TIME_ZONE (the
    last one is the current hour)."""
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(minute=0, second=0, microsecond=0)
    return local - dt.timedelta(hours=CHART_HOURS - 1)


def _per_hour(queryset: Any, field_name: str, start: dt.datetime) -> dict[tuple[int | None, dt.datetime], int]:
    """(connection id, hour start in UTC) → rows, grouped in the database by local hour."""
    rows = (queryset.filter(**{f"{field_name}__gte": start}).order_by()
            .annotate(hour=TruncHour(field_name, tzinfo=ZoneInfo(settings.TIME_ZONE)))
            .values("connection_id", "hour").annotate(n=Count("pk")).values_list("connection_id", "hour", "n"))
    return {(connection_id, hour.astimezone(dt.UTC)): n for connection_id, hour, n in rows}


def events_per_hour(now: dt.datetime) -> tuple[list[dt.datetime], dict[tuple[int | None, dt.datetime], int],
                                                dict[tuple[int | None, dt.datetime], int]]:
    """The chart's hours (UTC starts) and inbox received / outbox sent per connection and hour."""
    start = _chart_start(now)
    hours = [(start + dt.timedelta(hours=i)).astimezone(dt.UTC) for i in range(CHART_HOURS)]
    received = _per_hour(Inbox.objects.all(), "received_at", start)
    sent = _per_hour(Outbox.objects.filter(status=Outbox.Status.SENT), "sent_at", start)
    return hours, received, sent


def events_chart(hours: list[tuple[dt.datetime, int, int]]) -> Chart | None:
    """Bars in and out per local hour; the date under the first hour and under midnights."""
    groups = []
    for i, (local, n_in, n_out) in enumerate(hours):
        label = f"{local:%H}:00"
        span = f"{label}–{(local + dt.timedelta(hours=1)):%H}:00"
        groups.append(GroupSpec(
            label=label, sublabel=f"{local:%d.%m}" if i == 0 or local.hour == 0 else "",
            bars=(BarSpec(kind="in", value=n_in, title=f"{local:%d.%m} {span}: получено {n_in}"),
                  BarSpec(kind="out", value=n_out, title=f"{local:%d.%m} {span}: отправлено {n_out}"))))
    return bar_chart(groups, height=260, whole=True)


def contacts_counts(now: dt.datetime) -> tuple[int, int]:
    """Contacts (duplicates merged away not counted) and those created since local midnight."""
    midnight = now.astimezone(ZoneInfo(settings.TIME_ZONE)).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = Contact.objects.filter(merged_into__isnull=True).aggregate(
        total=Count("pk"), today=Count("pk", filter=Q(created_at__gte=midnight)))
    return counts["total"], counts["today"]


def dashboard(now: dt.datetime | None = None, thresholds: Thresholds = THRESHOLDS) -> Dashboard:
    """Everything the admin index shows operators, in a fixed number of queries."""
    now = now or timezone.now()
    since = (now - thresholds.window).replace(microsecond=0)
    outbox = {row["connection_id"]: row for row in (
        Outbox.objects.filter(status__in=_OUTBOX_OPEN).order_by().values("connection_id").annotate(
            queued=Count("pk", filter=Q(status__in=[Outbox.Status.PENDING, Outbox.Status.SENDING])),
            retrying=Count("pk", filter=Q(status=Outbox.Status.FAILED)),
            failed_recent=Count("pk", filter=Q(status=Outbox.Status.FAILED, created_at__gte=since)),
            dead_recent=Count("pk", filter=Q(status=Outbox.Status.DEAD, created_at__gte=since)),
            dead=Count("pk", filter=Q(status=Outbox.Status.DEAD)),
            due_since=Min("next_attempt_at", filter=Q(status__in=[Outbox.Status.PENDING, Outbox.Status.FAILED])),
            lease_over=Min("locked_until", filter=Q(status=Outbox.Status.SENDING)),
        ))}
    inbox = {row["connection_id"]: row for row in (
        Inbox.objects.filter(Q(status__in=[Inbox.Status.RECEIVED, Inbox.Status.FAILED])
                             | Q(status=Inbox.Status.REJECTED, received_at__gte=since))
        .order_by().values("connection_id").annotate(
            waiting=Count("pk", filter=Q(status=Inbox.Status.RECEIVED)),
            waiting_since=Min("received_at", filter=Q(status=Inbox.Status.RECEIVED)),
            failed_recent=Count("pk", filter=Q(status=Inbox.Status.FAILED, received_at__gte=since)),
            failed=Count("pk", filter=Q(status=Inbox.Status.FAILED)),
            rejected_recent=Count("pk", filter=Q(status=Inbox.Status.REJECTED, received_at__gte=since)),
        ))}
    hours, received, sent = events_per_hour(now)
    in_by_connection: dict[int | None, int] = defaultdict(int)
    out_by_connection: dict[int | None, int] = defaultdict(int)
    for (connection_id, _hour), n in received.items():
        in_by_connection[connection_id] += n
    for (connection_id, _hour), n in sent.items():
        out_by_connection[connection_id] += n

    rows = []
    for connection in Connection.objects.order_by("name"):
        rows.append(_row(connection, outbox.get(connection.pk, {}), inbox.get(connection.pk, {}), now=now,
                         since=since, events_in=in_by_connection[connection.pk],
                         events_out=out_by_connection[connection.pk], thresholds=thresholds))

    tz = ZoneInfo(settings.TIME_ZONE)
    per_hour = []
    for hour in hours:
        n_in = sum(n for (_c, h), n in received.items() if h == hour)
        n_out = sum(n for (_c, h), n in sent.items() if h == hour)
        per_hour.append((hour.astimezone(tz), n_in, n_out))
    total, today = contacts_counts(now)
    return Dashboard(now=now, since=since, rows=rows, chart=events_chart(per_hour), hours=per_hour,
                     events_in=sum(received.values()), events_out=sum(sent.values()),
                     contacts_total=total, contacts_today=today, thresholds=thresholds)


def _row(connection: Connection, out: dict[str, Any], inb: dict[str, Any], *, now: dt.datetime,
         since: dt.datetime, events_in: int, events_out: int, thresholds: Thresholds) -> ConnectionRow:
    connector = registry.get(connection.system)
    outbox_url, inbox_url = "admin:hub_outbox_changelist", "admin:hub_inbox_changelist"
    pk = connection.pk
    status_in = {"connection__id__exact": pk}
    recent_out = {**status_in, "created_at__gte": _stamp(since)}
    recent_in = {**status_in, "received_at__gte": _stamp(since)}
    dead_recent = out.get("dead_recent", 0)
    inbox_failed_recent = inb.get("failed_recent", 0)
    due = [t for t in (out.get("due_since"), out.get("lease_over")) if t]
    return ConnectionRow(
        connection=connection,
        title=str(connector.title) if connector else connection.system,
        polled=bool(connector and connector.can_pull),
        pushed=bool(connector and connector.subscribes),
        queued=Tally(out.get("queued", 0), _link(outbox_url, **status_in, status__in="pending,sending")),
        retrying=Tally(out.get("retrying", 0), _link(outbox_url, **status_in, status__exact="failed")),
        inbox_waiting=Tally(inb.get("waiting", 0), _link(inbox_url, **status_in, status__exact="received")),
        failed_recent=Tally(out.get("failed_recent", 0), _link(outbox_url, **recent_out, status__exact="failed")),
        dead_recent=Tally(dead_recent, _link(outbox_url, **recent_out, status__exact="dead")),
        dead_older=Tally(out.get("dead", 0) - dead_recent,
                         _link(outbox_url, **status_in, status__exact="dead", created_at__lt=_stamp(since))),
        inbox_failed_recent=Tally(inbox_failed_recent, _link(inbox_url, **recent_in, status__exact="failed")),
        inbox_failed_older=Tally(inb.get("failed", 0) - inbox_failed_recent,
                                 _link(inbox_url, **status_in, status__exact="failed", received_at__lt=_stamp(since))),
        inbox_rejected_recent=Tally(inb.get("rejected_recent", 0),
                                    _link(inbox_url, **recent_in, status__exact="rejected")),
        events_in=events_in,
        events_out=events_out,
        headroom=connection_headroom(connection, connector),
        last_error=(connection.last_error or "")[:ERROR_CHARS],
        problems=connection_problems(
            connection, connector, now=now, dead_recent=dead_recent, inbox_failed_recent=inbox_failed_recent,
            queue_due_since=min(due) if due else None, inbox_waiting_since=inb.get("waiting_since"),
            thresholds=thresholds),
    )
