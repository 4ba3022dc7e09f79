"""Prometheus metrics, read at scrape time from the shared database and Redis.

Web and worker processes come and go on several machines; in-process counters would be
per process and lost on restart. So every figure here is derived from shared state: the
outbox and inbox tables, the connections, the broker queue, and the outbound-request
counters that every process adds to in Redis (``external_request_count``, called by the
connectors' request hook).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.models import Connection, Inbox, Outbox

log = logging.getLogger(__name__)
HTTP_COUNTS_KEY = "hub:metrics:http"  # hash: "<system>|<status class>" → count
OPEN = [Outbox.Status.PENDING, Outbox.Status.SENDING, Outbox.Status.FAILED, Outbox.Status.DEAD]


def status_class(status: int | None) -> str:
    """2xx, 4xx, 429, 5xx, or "none" for no answer: 429 apart, it is the one to watch."""
    if status is None:
        return "none"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


def external_request_count(system: str, status: int | None) -> None:
    """One shared counter per system and status class (Redis only). Never raises: a Redis
    outage must not fail the request it counts."""
    if not settings.REDIS_URL:
        return
    from hub.redis import redis_client

    try:
        redis_client().hincrby(HTTP_COUNTS_KEY, f"{system}|{status_class(status)}", 1)
    except Exception as exc:  # noqa: BLE001
        log.debug("metrics: request not counted: %s", type(exc).__name__)


def _age(now: dt.datetime, moment: dt.datetime | None) -> float | None:
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


def _broker_queue_length() -> int | None:
    """Tasks waiting in the default queue, read from the broker itself (it may be another Redis
    than REDIS_URL); None for brokers we do not read (RabbitMQ has its own metrics)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        return None
    from hub.redis import redis_for

    return int(redis_for(url).llen("celery"))


class HubCollector(Collector):
    """Gauges per connection (labels: id and system; names are the operator's, ids are stable)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        connections = list(Connection.objects.order_by("pk"))
        labels = ["connection", "system"]
        key = {c.pk: [str(c.pk), c.system] for c in connections}

        enabled = GaugeMetricFamily("hub_connection_enabled", "1 when the connection is enabled", labels=labels)
        pull_age = GaugeMetricFamily("hub_connection_last_pull_age_seconds",
                                     "Seconds since the last successful pull", labels=labels)
        push_age = GaugeMetricFamily("hub_connection_last_push_age_seconds",
                                     "Seconds since the last successful push", labels=labels)
        pull_failures = GaugeMetricFamily("hub_connection_pull_failures",
                                          "Pulls failed in a row", labels=labels)
        interval = GaugeMetricFamily("hub_connection_poll_interval_seconds",
                                     "The operator's poll interval", labels=labels)
        for c in connections:
            enabled.add_metric(key[c.pk], 1.0 if c.enabled else 0.0)
            interval.add_metric(key[c.pk], float(c.poll_interval))
            pull_failures.add_metric(key[c.pk], float(c.pull_failures))
            if (age := _age(now, c.last_pull_at)) is not None:
                pull_age.add_metric(key[c.pk], age)
            if (age := _age(now, c.last_push_at)) is not None:
                push_age.add_metric(key[c.pk], age)
        yield from (enabled, pull_age, push_age, pull_failures, interval)

        rows = GaugeMetricFamily("hub_outbox_rows", "Outbox rows not yet sent, by status",
                                 labels=[*labels, "status"])
        oldest = GaugeMetricFamily("hub_outbox_oldest_unsent_age_seconds",
                                   "Age of the oldest change not yet delivered (pending, sending, retrying): "
                                   "the push lag, whether the rows wait for a worker or for the provider",
                                   labels=labels)
        by_connection = (Outbox.objects.filter(status__in=OPEN).values("connection_id")
                         .annotate(**{s: Count("pk", filter=Q(status=s)) for s in OPEN},
                                   first=Min("created_at", filter=~Q(status=Outbox.Status.DEAD))))
        for row in by_connection:
            labels_of = key.get(row["connection_id"])
            if labels_of is None:  # a connection created after we listed them
                continue
            for status in OPEN:
                rows.add_metric([*labels_of, str(status)], float(row[status]))
            if (age := _age(now, row["first"])) is not None:
                oldest.add_metric(labels_of, age)
        yield from (rows, oldest)

        waiting = Inbox.objects.filter(status=Inbox.Status.RECEIVED).aggregate(n=Count("pk"), first=Min("received_at"))
        yield GaugeMetricFamily("hub_inbox_unprocessed", "Inbound events stored, not yet processed",
                                value=float(waiting["n"]))
        yield GaugeMetricFamily("hub_inbox_oldest_unprocessed_age_seconds",
                                "How long the oldest unprocessed inbound event has waited",
                                value=_age(now, waiting["first"]) or 0.0)
        failed = GaugeMetricFamily("hub_inbox_failed", "Inbound events that failed processing",
                                   labels=["source"])
        for source, n in (Inbox.objects.filter(status=Inbox.Status.FAILED).values("source")
                          .annotate(n=Count("pk")).values_list("source", "n")):
            failed.add_metric([source], float(n))
        yield failed
        yield from self._redis_metrics()

    def _redis_metrics(self) -> Iterator[Metric]:
        if not settings.REDIS_URL:
            return
        from hub.redis import redis_client

        try:
            counts = redis_client().hgetall(HTTP_COUNTS_KEY)
            queue = _broker_queue_length()
        except Exception as exc:  # noqa: BLE001 - a scrape reports what it can
            log.warning("metrics: Redis unavailable: %s", type(exc).__name__)
            yield GaugeMetricFamily("hub_redis_up", "1 when Redis answered the scrape", value=0.0)
            return
        yield GaugeMetricFamily("hub_redis_up", "1 when Redis answered the scrape", value=1.0)
        requests = CounterMetricFamily("hub_external_requests", "Outbound HTTP requests by system and answer",
                                       labels=["system", "status"])
        for field, value in sorted(counts.items()):
            system, _, klass = field.decode().partition("|")
            requests.add_metric([system, klass], float(value))
        yield requests
        if queue is not None:
            yield GaugeMetricFamily("hub_broker_queue_length", "Tasks waiting in the Celery queue",
                                    value=float(queue))
