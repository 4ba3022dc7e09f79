"""A worker killed with SIGKILL in the middle of an outbox drain (issue #12).

What brings back the rows a dead worker held is not its Celery message: on the Redis broker
the unacknowledged message of a worker that died whole waits out the visibility timeout (an
hour) before anyone gets it again. The rows carry the guarantee themselves: claimed under a
lease, they are due again once it runs out, and beat starts a drain every few seconds. When
only the pool process dies (the worker's main process lives), acks_late +
reject_on_worker_lost put the message straight back and the drain runs again at once.
"""

from __future__ import annotations

import os
import signal

import pytest
import redis

from hub.models import ExternalRef, Outbox
from tests.faults.processes import wait_for
from tests.faults.targets import make_contacts, names, outbox_state

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

COUNT = 12
BATCH = 5
# Small batches, a 2 s lease and a drain a second: minutes of production time in seconds.
FAST = {"HUB_OUTBOX_BATCH": str(BATCH), "HUB_OUTBOX_LEASE_SECONDS": "2", "HUB_OUTBOX_DRAIN_EVERY": "1",
        "HUB_OUTBOX_BACKOFF_BASE": "0.5"}
SENT = Outbox.Status.SENT
SENDING = Outbox.Status.SENDING


@pytest.mark.parametrize("system", ["webhook", "amocrm"])
def test_a_worker_killed_mid_send_delivers_every_contact_once_after_a_restart(system, request, hub_processes,
                                                                              redis_server):
    target = request.getfixturevalue(f"{system}_target")
    contacts = make_contacts(COUNT)
    rows = Outbox.objects.filter(connection=target.connection)
    assert rows.count() == COUNT
    target.fault(latency_ms=1500, path_prefix=target.write_path)  # the first write hangs 1.5 s
    hub_processes.beat(**FAST)
    worker = hub_processes.worker("worker-1", **FAST)

    wait_for(target.writes, 20, "the first batch on its way")
    in_flight = set(rows.filter(status=SENDING).values_list("pk", flat=True))
    worker.kill()
    assert len(in_flight) == BATCH
    assert rows.filter(pk__in=in_flight, status=SENDING).count() == BATCH, "killed before it stored a result"
    # Their system finishes the request of the dead worker: it holds the batch, we lost the answer.
    wait_for(lambda: len(target.names()) >= BATCH, 10, "the killed worker's batch stored remotely")
    # Its message is not lost either: unacknowledged, it waits for the broker's visibility timeout.
    assert redis.Redis.from_url(redis_server.url()).hlen("unacked") == 1

    hub_processes.worker("worker-2", **FAST)
    wait_for(lambda: not rows.exclude(status=SENT).exists(), 30, "every row sent after the restart",
             explain=lambda: outbox_state(rows))
    assert target.names() == names(COUNT), "each client exactly once on their side"
    refs = dict(ExternalRef.objects.filter(connection=target.connection, kind="contact")
                .values_list("local_id", "external_id"))
    assert sorted(refs) == sorted(c.pk for c in contacts)
    assert sorted(refs.values()) == target.their_ids()
    attempts = dict(rows.values_list("pk", "attempts"))
    assert {pk: n for pk, n in attempts.items() if n != 1} == dict.fromkeys(in_flight, 2)
    if system == "webhook":  # at-least-once: only the lost batch went twice, and its receiver deduped it
        assert dict(target.app.sent_ids) == {f"hub-{pk}": 2 if pk in in_flight else 1 for pk in attempts}


def test_a_killed_pool_process_has_its_drain_message_redelivered_at_once(webhook_target, hub_processes):
    make_contacts(COUNT)
    rows = Outbox.objects.filter(connection=webhook_target.connection)
    webhook_target.fault(latency_ms=1500, path_prefix="/events")
    # No beat, and a lease that outlasts the test: only the redelivered message can send the rest.
    worker = hub_processes.worker("worker", HUB_OUTBOX_BATCH=str(BATCH), HUB_OUTBOX_LEASE_SECONDS="300")
    hub_processes.send_drain()

    wait_for(webhook_target.writes, 20, "the first batch on its way")
    in_flight = set(rows.filter(status=SENDING).values_list("pk", flat=True))
    (pool_process,) = worker.children()
    os.kill(pool_process, signal.SIGKILL)
    assert rows.filter(pk__in=in_flight, status=SENDING).count() == BATCH, "killed before it stored a result"

    rest = rows.exclude(pk__in=in_flight)
    wait_for(lambda: not rest.exclude(status=SENT).exists(), 20, "the redelivered drain to send the rest",
             explain=lambda: outbox_state(rows))
    assert worker.alive()
    assert "WorkerLostError" in worker.log()
    # The lease keeps the lost batch from a second send while it lasts; beat's drains take it after.
    assert set(rows.filter(status=SENDING).values_list("pk", flat=True)) == in_flight
    wait_for(lambda: len(webhook_target.app.sent_ids) == COUNT, 10, "the lost batch stored remotely")
    assert set(webhook_target.app.sent_ids.values()) == {1}
