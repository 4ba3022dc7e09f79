import datetime as dt

import pytest
import requests
from django.utils import timezone

from hub.models import Connection, Outbox
from hub.services.connections import connections_due_for_pull
from hub.tasks import connection_pull_task, connections_pull_due_task, outbox_drain_task

pytestmark = pytest.mark.django_db


def test_due_for_pull_respects_interval_and_errors(webhook_connection):
    now = timezone.now()
    assert connections_due_for_pull(now) == [webhook_connection]
    Connection.objects.filter(pk=webhook_connection.pk).update(last_pull_at=now - dt.timedelta(seconds=10))
    assert connections_due_for_pull(now) == []
    Connection.objects.filter(pk=webhook_connection.pk).update(last_error_at=now - dt.timedelta(seconds=40),
                                                               last_pull_at=now - dt.timedelta(seconds=100))
    assert connections_due_for_pull(now) == [webhook_connection]
    Connection.objects.filter(pk=webhook_connection.pk).update(enabled=False)
    assert connections_due_for_pull(now) == []


def test_scheduled_pull_runs_and_a_failing_one_is_recorded_not_raised(webhook_connection, webhook_emulator):
    assert connections_pull_due_task.delay().get() == 1
    webhook_connection.refresh_from_db()
    assert webhook_connection.last_pull_at is not None
    Connection.objects.filter(pk=webhook_connection.pk).update(base_url="http://127.0.0.1:1")
    result = connection_pull_task.delay(webhook_connection.pk).get()
    webhook_connection.refresh_from_db()
    assert "cannot connect" in result["error"] and "cannot connect" in webhook_connection.last_error


def test_drain_task_empties_the_queue_in_batches(webhook_connection, webhook_emulator, settings):
    settings.HUB_OUTBOX_BATCH = 3
    for i in range(7):
        Outbox.objects.create(connection=webhook_connection, action="contact.merged", payload={"n": i})
    assert outbox_drain_task.delay().get() == 7
    assert webhook_emulator.app.state()["deliveries"] == 7


def test_row_of_a_dead_worker_is_taken_again_after_its_lease(webhook_connection, webhook_emulator):
    row = Outbox.objects.create(connection=webhook_connection, action="contact.merged", payload={},
                                status=Outbox.Status.SENDING, claim_token="dead-worker",
                                locked_until=timezone.now() + dt.timedelta(minutes=5))
    assert outbox_drain_task.delay().get() == 0  # lease still held
    Outbox.objects.filter(pk=row.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert outbox_drain_task.delay().get() == 1
    row.refresh_from_db()
    assert row.status == Outbox.Status.SENT


def test_disabled_connection_keeps_its_queue(webhook_connection):
    Outbox.objects.create(connection=webhook_connection, action="contact.merged", payload={})
    Connection.objects.filter(pk=webhook_connection.pk).update(enabled=False)
    assert outbox_drain_task.delay().get() == 0
    assert Outbox.objects.get().status == Outbox.Status.PENDING


def test_failing_pulls_back_off_exponentially_and_reset_on_success(webhook_connection, webhook_emulator):
    from hub.services.connections import connection_pull
    from hub.sync.errors import SyncError

    good_url = webhook_connection.base_url
    Connection.objects.filter(pk=webhook_connection.pk).update(base_url="http://127.0.0.1:1")
    webhook_connection.refresh_from_db()
    for _ in range(3):
        with pytest.raises(SyncError):
            connection_pull(webhook_connection)
    webhook_connection.refresh_from_db()
    assert webhook_connection.pull_failures == 3
    after_error = webhook_connection.last_error_at
    assert connections_due_for_pull(after_error + dt.timedelta(seconds=230)) == []  # 30 s × 2³ = 240 s
    assert connections_due_for_pull(after_error + dt.timedelta(seconds=241)) == [webhook_connection]
    Connection.objects.filter(pk=webhook_connection.pk).update(base_url=good_url)
    webhook_connection.refresh_from_db()
    connection_pull(webhook_connection)
    webhook_connection.refresh_from_db()
    assert webhook_connection.pull_failures == 0


def test_a_pull_is_due_at_the_tick_of_its_interval_though_stamped_when_it_ended(webhook_connection):
    now = timezone.now()
    Connection.objects.filter(pk=webhook_connection.pk).update(last_pull_at=now - dt.timedelta(seconds=29))
    assert connections_due_for_pull(now) == [webhook_connection]  # interval 30 s: not the 40 s tick
    Connection.objects.filter(pk=webhook_connection.pk).update(last_pull_at=now - dt.timedelta(seconds=20))
    assert connections_due_for_pull(now) == []


def test_pulling_at_every_tick_still_backs_off_when_failing(webhook_connection):
    from hub.services.connections import pull_wait

    webhook_connection.poll_interval = 0
    assert pull_wait(webhook_connection) == 0
    webhook_connection.pull_failures = 3
    assert pull_wait(webhook_connection) == 80  # 10 s × 2³, not 0 × 2³


def test_a_pull_that_brought_records_sends_the_queue_at_once(webhook_connection, webhook_emulator, hook_receiver):
    queued = Outbox.objects.create(connection=webhook_connection, action="contact.merged", payload={})
    connection_pull_task.delay(webhook_connection.pk).get()  # nothing new there: the drain tick will do
    assert Outbox.objects.get(pk=queued.pk).status == Outbox.Status.PENDING
    requests.post(f"{webhook_emulator.url}/_emulator/emit", timeout=10,
                  json={"data": {"first_name": "Анна"}, "webhook_url": f"{hook_receiver.url}/hook"})

    connection_pull_task.delay(webhook_connection.pk).get()

    assert Outbox.objects.get(pk=queued.pk).status == Outbox.Status.SENT
