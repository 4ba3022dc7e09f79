"""End-to-end latency: a visitor passes a Lime turnstile → a deal in amoCRM, through the hub as
it runs in production (Lime and amoCRM emulators, Celery worker with beat: each its own
process), at the default Lime poll interval and at the minimum one allowed.

What bounds it: every ``connections-pull`` beat tick (10 s) the hub pulls the connections whose
poll interval has passed since their last pull ended, so a pull comes every
``tick × ceil((interval + pull time) / tick)`` seconds; the pull turns the pass into a Pass and
an outbox row, which waits for the next ``outbox-drain`` tick (5 s). Latency ≈ wait for the
pull + wait for the drain + the pull and the push themselves.

    python bench/e2e_latency.py [--passes 20] [--intervals 30,0] [--postgres postgres://postgres@127.0.0.1:5432]
                                [--redis-url redis://127.0.0.1:6379/13] [--database-url …] [--embedded]

By default a PostgreSQL database is created for the run and dropped after it, and the given
Redis database is FLUSHED before and after (broker, cache, locks); without either, a temp SQLite and the
filesystem broker (the embedded default), said so in the output.
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests
from common import ROOT, postgres_throwaway, record, setup_django

PASS_ROUTE = {"pipeline_id": "3003", "stage_id": "30030"}  # the demo's "passes" pipeline (demo_setup)
POLL = 0.25  # how often the amoCRM emulator is asked for its deals: the resolution of the figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=20, help="passes per poll interval")
    parser.add_argument("--intervals", help="Lime poll intervals to measure, s (default: the default and the minimum)")
    parser.add_argument("--min-gap", type=float, default=0.5, help="least seconds between two passes")
    parser.add_argument("--max-gap", type=float, default=3.5, help="most seconds between two passes")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (the Procfile runs 1)")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                        help="server to create the throwaway database on")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="a spare Redis db: it is flushed")
    parser.add_argument("--database-url", help="use this (benchmark) database as it is instead")
    parser.add_argument("--embedded", action="store_true", help="temp SQLite and the filesystem broker")
    args = parser.parse_args()

    database_url = args.database_url
    if not database_url and not args.embedded:
        database_url = postgres_throwaway(args.postgres, "hub_bench_e2e")
        if database_url is None:
            print(f"PostgreSQL does not answer at {args.postgres}: temp SQLite instead")
    redis_url = None if args.embedded else args.redis_url
    if redis_url and not _redis_flushed(redis_url):
        print(f"Redis does not answer at {redis_url}: the filesystem broker instead")
        redis_url = None
    for var in ("REDIS_URL", "CELERY_BROKER_URL"):  # the worker inherits the same choice
        if redis_url:
            os.environ[var] = redis_url
        else:
            os.environ.pop(var, None)
    setup_django(database_url)
    run(args, broker="redis" if redis_url else "filesystem")


def _redis_flushed(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3)
        client.flushdb()
    except redis.RedisError:
        return False
    atexit.register(client.flushdb)  # the run's queues, locks and cache go with it
    return True


def run(args: argparse.Namespace, broker: str) -> None:
    from django.conf import settings
    from django.core.validators import MinValueValidator

    from connectors.base.emulator import EmulatorProcess
    from hub.models import Connection
    from hub.services.connections import connection_upsert

    field = Connection._meta.get_field("poll_interval")
    default = int(field.default)
    minimum = max((int(v.limit_value) for v in field.validators if isinstance(v, MinValueValidator)), default=0)
    intervals = [int(x) for x in args.intervals.split(",")] if args.intervals else [default, minimum]
    pull_tick = float(settings.CELERY_BEAT_SCHEDULE["connections-pull"]["schedule"])
    drain_tick = float(settings.CELERY_BEAT_SCHEDULE["outbox-drain"]["schedule"])
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"db: {engine}, broker: {broker}; Lime poll interval: default {default} s, minimum {minimum} s; "
          f"beat: connections-pull every {pull_tick:g} s, outbox-drain every {drain_tick:g} s")

    names = ("bench-e2e-lime", "bench-e2e-amocrm")
    Connection.objects.filter(name__in=names).delete()  # a previous run on the same --database-url
    venue = ("--password", "bench", "--clients", "20", "--checks", "0", "--passes", "0")  # passes: ours only
    with EmulatorProcess("lime", *venue) as lime_emu, \
            EmulatorProcess("amocrm", "--long-lived-token", "bench") as amo_emu:
        lime, _ = connection_upsert(name=names[0], system="lime", base_url=lime_emu.url,
                                    credentials={"username": "api@venue.example", "password": "bench"},
                                    settings={"installation_id": 1, "cashdesk_id": 1}, poll_interval=intervals[0])
        amo, _ = connection_upsert(name=names[1], system="amocrm", base_url=amo_emu.url,
                                   credentials={"long_lived_token": "bench"},
                                   settings={"subdomain": "demo", "catalog_id": "5001", "routes": {"pass": PASS_ROUTE}})
        others = list(Connection.objects.filter(enabled=True).exclude(pk__in=[lime.pk, amo.pk])
                      .values_list("pk", flat=True))
        if others:  # the worker serves every connection in the database: only ours, for the run
            print(f"{len(others)} other connection(s) in this database disabled for the run")
            Connection.objects.filter(pk__in=others).update(enabled=False)
        try:
            with Worker(args.concurrency) as worker:
                started = time.monotonic()
                worker.wait(lambda: Connection.objects.get(pk=lime.pk).last_pull_at is not None, 120,
                            "the worker's first pull of Lime")
                worker.wait(lambda: _outbox_idle(amo), 120, "the first contacts sent to amoCRM")
                print(f"worker up, Lime pulled and contacts sent in {time.monotonic() - started:.0f} s")
                tracker = DealTracker(amo_emu.url, lime, amo)
                failed = False
                for n, interval in enumerate(intervals):
                    connection_upsert(name=lime.name, poll_interval=interval)
                    rng = random.Random(args.seed + n)
                    latencies, pulls = tracker.measure(worker, lime_emu.url, args.passes, rng,
                                                       (args.min_gap, args.max_gap),
                                                       2 * (interval + pull_tick) + drain_tick + 60)
                    label = "default" if interval == default else "minimum" if interval == minimum else "set"
                    failed |= _report(interval, label, args.passes, latencies, pulls, pull_tick, drain_tick,
                                      engine, broker)
                    worker.wait(lambda: _outbox_idle(amo), 120, "the outbox to empty")
        finally:
            Connection.objects.filter(pk__in=others).update(enabled=True)
    if failed:
        raise SystemExit("some passes never became deals (see 'deals' above)")


def _outbox_idle(connection: Any) -> bool:
    from hub.models import Outbox

    return not Outbox.objects.filter(connection=connection, status__in=("pending", "sending", "failed")).exists()


class Worker:
    """``celery -A hub worker --beat`` as the Procfile runs it, in its own process group (beat
    runs as its child); its log goes to the run's temp dir and is shown if it dies."""

    def __init__(self, concurrency: int) -> None:
        self.var = Path(os.environ["HUB_VAR_DIR"])
        self.command = [sys.executable, "-m", "celery", "-A", "hub", "worker", "--beat", "--loglevel", "WARNING",
                        "--concurrency", str(concurrency), "--schedule", str(self.var / "celerybeat-schedule")]

    def __enter__(self) -> Worker:
        self.log = (self.var / "worker.log").open("w")
        self.proc = subprocess.Popen(self.command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def wait(self, done: Any, seconds: float, what: str) -> None:
        """Poll until ``done()`` (waiting on another process: no other way), failing loudly if
        the worker dies or the deadline passes."""
        deadline = time.monotonic() + seconds
        while not done():
            self.alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}\n{self.tail()}")
            time.sleep(POLL)

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise SystemExit(f"the worker exited ({self.proc.returncode})\n{self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return "\n".join((self.var / "worker.log").read_text(errors="replace").splitlines()[-30:])

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)  # warm shutdown of the worker and its beat
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


class DealTracker:
    """When each amoCRM deal was first seen (by polling the emulator, as a manager would see
    it), and which Lime pass each deal stands for (through the hub's refs, Lime pass →
    hub Pass → amoCRM deal: an exact match, not an order guess)."""

    def __init__(self, amo_url: str, lime: Any, amo: Any) -> None:
        self.amo_url, self.lime, self.amo = amo_url, lime, amo
        self.seen: dict[str, float] = {}

    def poll(self) -> None:
        leads = requests.get(f"{self.amo_url}/_emulator/state", timeout=30).json()["leads"]
        now = time.monotonic()
        for lead in leads:
            if str(lead.get("pipeline_id")) == PASS_ROUTE["pipeline_id"]:
                self.seen.setdefault(str(lead["id"]), now)

    def deals(self, lime_ids: list[str]) -> dict[str, str]:
        """Lime pass id → amoCRM deal id, for the passes that have one."""
        from hub.models import ExternalRef

        local = dict(ExternalRef.objects.filter(connection=self.lime, kind="pass", external_id__in=lime_ids)
                     .values_list("local_id", "external_id"))
        return {local[pk]: deal for pk, deal in ExternalRef.objects.filter(
            connection=self.amo, kind="pass", local_id__in=list(local)).values_list("local_id", "external_id")}

    def measure(self, worker: Worker, lime_url: str, n: int, rng: random.Random, gap: tuple[float, float],
                tail: float) -> tuple[list[float], list[float]]:
        """Make ``n`` passes one by one at random gaps (so they fall anywhere in the pull cycle);
        returns each one's latency and the times between the pulls seen meanwhile."""
        from hub.models import Connection

        made: dict[str, float] = {}
        pulls: list[Any] = []
        next_at, deadline = time.monotonic() + rng.uniform(*gap), math.inf
        latencies: dict[str, float] = {}
        while len(latencies) < n and time.monotonic() < deadline:
            worker.alive()
            if len(made) < n and time.monotonic() >= next_at:
                answer = requests.post(f"{lime_url}/_emulator/pass", timeout=10)
                answer.raise_for_status()
                made[str(answer.json()["id"])] = time.monotonic()
                next_at = time.monotonic() + rng.uniform(*gap)
                if len(made) == n:
                    deadline = time.monotonic() + tail
            self.poll()
            last = Connection.objects.filter(pk=self.lime.pk).values_list("last_pull_at", flat=True).first()
            if last and (not pulls or last != pulls[-1]):
                pulls.append(last)
            pending = [lime_id for lime_id in made if lime_id not in latencies]
            for lime_id, deal in self.deals(pending).items():
                if deal in self.seen:
                    latencies[lime_id] = max(self.seen[deal] - made[lime_id], 0.0)
            time.sleep(POLL)
        spacing = [(b - a).total_seconds() for a, b in itertools.pairwise(pulls[1:])]  # within the run
        return list(latencies.values()), spacing


def _report(interval: int, label: str, n: int, latencies: list[float], spacing: list[float], pull_tick: float,
            drain_tick: float, engine: str, broker: str) -> bool:
    """Record one interval's figures; True when some pass never became a deal."""
    values = sorted(latencies)
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    every = statistics.mean(spacing) if spacing else float("nan")
    record(f"end-to-end latency, Lime pass → amoCRM deal, poll interval {interval} s ({label})", {
        "passes": str(n), "deals": str(len(values)),
        "p50 s": f"{cuts[49]:.1f}" if values else "-", "p95 s": f"{cuts[94]:.1f}" if values else "-",
        "max s": f"{values[-1]:.1f}" if values else "-", "min s": f"{values[0]:.1f}" if values else "-",
        "pulls every s (measured)": f"{every:.1f}",
        "bound s (pull spacing + drain tick)": f"{every + drain_tick:.0f}",
        "beat ticks s (pull/drain)": f"{pull_tick:g}/{drain_tick:g}", "db": engine, "broker": broker,
    })
    return len(values) < n


if __name__ == "__main__":
    main()
