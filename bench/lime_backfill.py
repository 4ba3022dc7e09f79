"""Lime backfill: the emulator (own process) with a big venue → a full `sync --full`.
Prints records/s and memory: peak RSS and its growth over the second half of the run
(flat memory = pages are streamed and nothing accumulates).

    python bench/lime_backfill.py [--clients 10000 --checks 30000 --passes 60000] [--database-url …]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from common import record, setup_django


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=30_000)
    parser.add_argument("--passes", type=int, default=60_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    setup_django(args.database_url)

    from connectors.base.emulator import EmulatorProcess
    from hub.models import Connection
    from hub.services.connections import connection_pull, connection_upsert

    with EmulatorProcess("lime", "--password", "bench", "--clients", str(args.clients),
                         "--checks", str(args.checks), "--passes", str(args.passes)) as emulator:
        url = emulator.url
        Connection.objects.filter(name="bench-lime").delete()
        connection, _ = connection_upsert(name="bench-lime", system="lime", base_url=url,
                                          credentials={"username": "api@venue.example", "password": "bench"},
                                          settings={"rate_limit": "100000/second"})
        samples: list[tuple[int, float]] = []
        done_total = [0]
        last = {"n": 0}

        def progress(entity: str, done: int, total: int | None) -> None:
            done_total[0] += done - last.get(entity, 0)
            last[entity] = done
            samples.append((done_total[0], rss_mb()))

        started = time.perf_counter()
        report = connection_pull(connection, full=True, progress=progress)
        elapsed = time.perf_counter() - started
    records = sum(v for k, v in report.counts.items() if not k.endswith("missing in Lime"))
    half = [m for n, m in samples if n >= records / 2] or [rss_mb()]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = connection._meta.model.objects.db
    from django.conf import settings

    record("Lime backfill (sync --full) from the emulator", {
        "clients": str(args.clients), "checks": str(args.checks), "passes": str(args.passes),
        "db": settings.DATABASES[engine]["ENGINE"].rsplit(".", 1)[-1],
        "records": str(records), "seconds": f"{elapsed:.0f}", "records/s": f"{records / elapsed:.0f}",
        "peak RSS MB": f"{peak:.0f}", "RSS growth over 2nd half MB": f"{max(half) - min(half):.1f}",
    })
    print(report.counts)


if __name__ == "__main__":
    main()
