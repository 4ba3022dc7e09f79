"""Small helpers shared by tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection as db_connection

from hub.services.outbox import outbox_drain


def drain_outbox() -> int:
    """Drain until nothing is due; returns how many rows were sent."""
    sent = 0
    while (report := outbox_drain()).total:
        sent += report.sent
    return sent


def run_at_once(workers: int, work: Callable[[int], Any]) -> list[BaseException]:
    """Run ``work(i)`` in ``workers`` threads released together; each thread closes its own
    DB connection. Returns the exceptions raised (the caller asserts on them)."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # collected for the caller
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
