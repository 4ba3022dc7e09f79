"""Redis restarted in the middle of a sync (issue #12).

Redis holds the broker queue, the shared rate-limit windows, locks and the cache; ours runs
without persistence, so a restart comes back empty, as after a crash. The rows to send live in
the database: a drain that cannot reach Redis records a retry for its batch, the worker and beat
reconnect, beat's next drain takes the rest. Nothing is lost and nothing goes twice.
"""

from __future__ import annotations

import pytest
from django.db.models import QuerySet

from hub.models import Connection, Outbox
from tests.faults.processes import wait_for
from tests.faults.targets import make_contacts, names, outbox_state

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

COUNT = 120
BATCH = 10
# A retry waits 1-2 s: longer than the running drain takes to fail what is left, so it stops.
KNOBS = {"HUB_OUTBOX_BATCH": str(BATCH), "HUB_OUTBOX_LEASE_SECONDS": "5", "HUB_OUTBOX_DRAIN_EVERY": "1",
         "HUB_OUTBOX_BACKOFF_BASE": "2"}


def test_redis_restarted_mid_drain_loses_nothing_sends_nothing_twice_and_the_drain_resumes(
        webhook_target, hub_processes, redis_server):
    make_contacts(COUNT)
    rows = Outbox.objects.filter(connection=webhook_target.connection)
    sent = webhook_target.app.sent_ids
    webhook_target.fault(latency_ms=150, times=10_000, path_prefix="/events")  # a drain that takes a while
    beat = hub_processes.beat(**KNOBS)
    worker = hub_processes.worker("worker", **KNOBS)

    wait_for(lambda: len(sent) >= 3 * BATCH, 20, "the drain under way")
    redis_server.kill()
    assert len(sent) < COUNT, "Redis went away in the middle of the drain"
    # The running drain gives up on what is left, and no other can start: the broker is down.
    wait_for(worker.drains, 15, "the running drain to end", interval=0.1)
    _, waiting = _settled(rows)
    assert waiting
    redis_server.start()  # same port, empty: only a reconnected worker and beat's next drain send the rest

    wait_for(lambda: not rows.exclude(status=Outbox.Status.SENT).exists(), 30, "every row sent after Redis is back",
             explain=lambda: outbox_state(rows))
    assert worker.alive() and beat.alive()
    assert webhook_target.names() == names(COUNT)
    assert dict(sent) == {f"hub-{pk}": 1 for pk in rows.values_list("pk", flat=True)}, "each event sent once"
    assert set(rows.values_list("attempts", flat=True)) == {1}, "waiting for Redis used up no attempts"


def test_contacts_created_before_redis_went_away_are_kept_from_the_answer(amocrm_target, hub_processes,
                                                                          redis_server):
    """One drain, two amoCRM requests: Redis dies while amoCRM answers the first, so the second
    cannot get a slot. The first request's contacts are linked from its answer, not retried (a
    retry could only find or duplicate them); the second's wait and keep their attempts."""
    Connection.objects.filter(pk=amocrm_target.connection.pk).update(
        settings={**amocrm_target.connection.settings, "batch_size": 5})
    make_contacts(10)
    rows = Outbox.objects.filter(connection=amocrm_target.connection)
    amocrm_target.fault(latency_ms=1500, path_prefix="/api/v4/contacts")
    hub_processes.beat(**KNOBS)
    worker = hub_processes.worker("worker", **KNOBS)

    wait_for(amocrm_target.writes, 20, "the first request on its way")
    redis_server.kill()
    wait_for(worker.drains, 15, "the running drain to end", interval=0.1)
    first, second = _settled(rows)
    assert (len(first), len(second)) == (5, 5)
    redis_server.start()
    wait_for(lambda: not rows.exclude(status=Outbox.Status.SENT).exists(), 30, "every row sent after Redis is back",
             explain=lambda: outbox_state(rows))
    assert amocrm_target.names() == names(10)
    attempts = dict(rows.values_list("pk", "attempts"))
    # The first five went once, linked from the answer; the rest waited without using up attempts.
    assert [attempts[pk] for pk in first + second] == [1] * 10


def _settled(rows: QuerySet[Outbox]) -> tuple[list[int], list[int]]:
    """(sent, waiting for a retry), once the drain stopped: nothing is pending or being sent."""
    states = dict(rows.values_list("pk", "status"))
    assert {Outbox.Status.PENDING, Outbox.Status.SENDING}.isdisjoint(states.values()), outbox_state(rows)
    return (sorted(pk for pk, s in states.items() if s == Outbox.Status.SENT),
            sorted(pk for pk, s in states.items() if s == Outbox.Status.FAILED))
