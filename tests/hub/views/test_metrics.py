"""/metrics: what an on-call engineer alerts on, read from shared state, and not public."""

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from connectors.base.metrics import RequestMetric, emit
from hub.metrics import HTTP_COUNTS_KEY
from hub.models import Connection, Inbox, Outbox
from hub.redis import redis_client

pytestmark = pytest.mark.django_db


def _samples(response) -> dict[tuple[str, tuple], float]:
    text = response.content.decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_queue_depth_lag_and_staleness_per_connection(client):
    now = timezone.now()
    crm = Connection.objects.create(name="CRM", system="amocrm", last_push_at=now - dt.timedelta(minutes=5))
    Outbox.objects.create(connection=crm, action="contact.upsert", created_at=now - dt.timedelta(minutes=10))
    # Backing off after refusals: not due, yet the oldest change still waiting to be delivered.
    Outbox.objects.create(connection=crm, action="deal.upsert", status=Outbox.Status.FAILED,
                          created_at=now - dt.timedelta(minutes=20), next_attempt_at=now + dt.timedelta(hours=1))
    Outbox.objects.create(connection=crm, action="contact.upsert", status=Outbox.Status.DEAD,
                          created_at=now - dt.timedelta(days=3))  # waits for an operator: not the lag
    Outbox.objects.create(connection=crm, action="contact.upsert", status=Outbox.Status.SENT)
    Inbox.objects.create(source="tilda", event_key="1", received_at=now - dt.timedelta(minutes=3))
    Inbox.objects.create(source="tilda", event_key="2", status=Inbox.Status.FAILED)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    got = _samples(response)
    labels = (("connection", str(crm.pk)), ("system", "amocrm"))
    rows = {dict(key)["status"]: value for (name, key), value in got.items()
            if name == "hub_outbox_rows" and dict(key)["connection"] == str(crm.pk)}
    assert rows == {"pending": 1, "sending": 0, "failed": 1, "dead": 1}  # sent rows are not a queue
    assert 1190 < got[("hub_outbox_oldest_unsent_age_seconds", labels)] < 1300
    assert got[("hub_connection_poll_interval_seconds", labels)] == 30
    assert 290 < got[("hub_connection_last_push_age_seconds", labels)] < 400
    assert ("hub_connection_last_pull_age_seconds", labels) not in got  # never pulled: no figure, not 0
    assert got[("hub_inbox_unprocessed", ())] == 1
    assert 170 < got[("hub_inbox_oldest_unprocessed_age_seconds", ())] < 300
    assert got[("hub_inbox_failed", (("source", "tilda"),))] == 1


def test_outbound_requests_are_counted_across_processes_in_redis(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    redis_client().delete(HTTP_COUNTS_KEY)
    for status in (200, 201, 429, 503, None):
        emit(RequestMetric(system="amocrm", connection_id=1, method="POST", path="/", status=status, elapsed_ms=1))

    got = _samples(client.get("/metrics"))

    assert got[("hub_external_requests_total", (("status", "2xx"), ("system", "amocrm")))] == 2
    assert got[("hub_external_requests_total", (("status", "429"), ("system", "amocrm")))] == 1
    assert got[("hub_external_requests_total", (("status", "5xx"), ("system", "amocrm")))] == 1
    assert got[("hub_external_requests_total", (("status", "none"), ("system", "amocrm")))] == 1
    assert got[("hub_redis_up", ())] == 1


def test_a_redis_outage_is_a_figure_not_an_error(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    emit(RequestMetric(system="amocrm", connection_id=1, method="POST", path="/", status=200, elapsed_ms=1))

    response = client.get("/metrics")

    assert response.status_code == 200
    assert _samples(response)[("hub_redis_up", ())] == 0


def test_only_this_machine_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    # A proxy on this machine: every visitor would come from 127.0.0.1.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403


def test_the_broker_queue_is_read_from_the_broker_not_the_cache_redis(client, settings, redis_url):
    from hub.redis import redis_for

    broker = redis_url.rsplit("/", 1)[0] + "/14"
    settings.REDIS_URL, settings.CELERY_BROKER_URL = redis_url, broker
    redis_for(broker).delete("celery")
    redis_for(broker).rpush("celery", "a", "b", "c")
    try:
        assert _samples(client.get("/metrics"))[("hub_broker_queue_length", ())] == 3
    finally:
        redis_for(broker).delete("celery")


def test_a_token_when_configured(client, settings):
    settings.HUB_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7",
                      headers={"Authorization": "Bearer s3cret"}).status_code == 200
