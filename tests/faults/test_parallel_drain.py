"""Four workers draining one outbox at once (issue #12): every client is written to amoCRM
exactly once, and the four together stay within the connection's limit — one window in Redis
shared by every process, not one per worker (that would be 4 × 6 = 24/s against amoCRM's 7).
The connection is set one below amoCRM's 7/s: our window counts when a request leaves, theirs
when it arrives, and on two loaded cores four processes' requests arrive tens of ms apart from
when they left."""

from __future__ import annotations

import pytest

from hub.models import Connection, Outbox
from tests.faults.processes import wait_for
from tests.faults.targets import make_contacts, names, outbox_state

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

COUNT = 240
WORKERS = 4
KNOBS = {"HUB_OUTBOX_BATCH": "10"}  # 24 batches, one amoCRM request each, for four workers
AMO_LIMIT = 7  # requests per second per token, enforced by the emulator with 429
HUB_LIMIT = "6/second"


def test_four_workers_draining_at_once_write_each_client_once_within_the_shared_limit(amocrm_target,
                                                                                   hub_processes):
    connection = amocrm_target.connection
    Connection.objects.filter(pk=connection.pk).update(settings={**connection.settings, "rate_limit": HUB_LIMIT})
    workers = [hub_processes.worker(f"worker-{n}", wait=False, **KNOBS) for n in range(WORKERS)]
    make_contacts(COUNT)  # while they start: nothing is sent before a drain message comes
    rows = Outbox.objects.filter(connection=amocrm_target.connection)
    for worker in workers:
        worker.wait_log(" ready.")
    hub_processes.send_drain(WORKERS)  # one each: a worker takes one message at a time

    wait_for(lambda: not rows.exclude(status=Outbox.Status.SENT).exists(), 40, "every row sent",
             interval=0.5, explain=lambda: outbox_state(rows))
    assert amocrm_target.names() == names(COUNT), "each client exactly once in amoCRM"
    assert set(rows.values_list("attempts", flat=True)) == {1}
    # A task logs what it did when it ends, a moment after its last row was stored.
    drained = [sum(wait_for(worker.drains, 10, f"{worker.name}'s drain to end")) for worker in workers]
    assert sum(drained) == COUNT
    assert all(drained), f"every worker took part: {drained}"

    state = amocrm_target.state()
    assert state["stats"]["429"] == 0
    arrivals = sorted(r["time"] for r in state["requests"] if r["path"].startswith("/api/v4/"))
    assert len(arrivals) >= COUNT // 10  # 24 batches, one request each
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= AMO_LIMIT
