"""Webhook intake: events/s and p50/p99 latency of /hooks/<system>/<key>/ under gunicorn
(2 workers) with wrk on loopback, for amoCRM, Bitrix24, Telegram and Tilda payloads, each as
a ratio of a minimal WSGI "200 OK" app served by the same gunicorn config (the ceiling). For
scale, the same gunicorn serving Django's own 404 (middleware and URL routing, no database)
is measured too: no Django view can beat it.

    python bench/webhook_intake.py [--seconds 10] [--database-url postgres://…|sqlite]
                                   [--postgres postgres://postgres@127.0.0.1:5432] [--redis-url redis://…/12]

Real parts only: a throwaway PostgreSQL database (created and dropped by the script; a temp
SQLite when PostgreSQL does not answer, said so in the figures; or ``--database-url``, used
as it is), Redis as the Celery broker (the db is FLUSHED before and after; no worker consumes
it: intake is what is measured), each connector's own verify/parse, and every request a
distinct event (bench/wrk/intake.lua numbers them), so none is a no-op redelivery. After each
run gunicorn is stopped gracefully (all it accepted is answered and committed) and the Inbox
is checked: every event answered 2xx has its row, and no row is there that nobody sent. A
request wrk cut in flight when it stopped may or may not be stored; it is reported apart.

Gunicorn config (the one recommended for production; hub and ceiling alike): ``gthread``,
2 workers × 4 threads, keep-alive 5 s. Why: an event is one INSERT that commits on its own,
and with ``synchronous_commit`` on the commit waits for the WAL flush. A sync worker idles
through that wait (2 sync workers = 2 commits in flight); threads overlap the waits while the
GIL serialises only the Python part. Keep-alive spares a TCP set-up per event from a load
balancer or a sender that reuses its connection; a sync worker closes every connection.
Measured on 2 shared cores (``--worker-class sync``, ``--threads N`` to compare): sync gave
~60% of gthread's events/s (and a ceiling halved by the reconnects); 2 and 8 threads gave no
more events/s than 4, and 8 the longest p99.

Besides events/s (which depend on whatever else the machine runs), the CPU the gunicorn
workers and the PostgreSQL processes serving them spent per event is printed and recorded:
1000 / (their sum) is the events/s one core can take.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from common import ROOT, postgres_throwaway, record, setup_django

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "wrk" / "intake.lua"
SYSTEMS = ("amocrm", "bitrix24", "telegram", "tilda")
GUNICORN = {"worker-class": "gthread", "workers": "2", "threads": "4", "keep-alive": "5"}
NAME = "bench-intake"  # prefix of the connections made here (and cleaned up on a given --database-url)

AMO_SUBDOMAIN, B24_TOKEN = "benchdemo", "b24-application-token-0123456789"
TG_SECRET, TILDA_KEY = "tg-webhook-secret-0123456789", "tilda-api-key-0123456789"


def ceiling_app(environ: dict, start_response) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The ceiling: reads the body (as the hub must) and answers 200 OK, nothing else."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"OK"]


# ---------------------------------------------------------------------------------- payloads
@dataclass
class Payload:
    """A body template ("__ID__" = the event id, "__TS__" = unix time), as the system sends it."""

    system: str
    body: str
    content_type: str
    headers: list[str] = field(default_factory=list)


def payloads() -> dict[str, Payload]:
    """Shapes as the emulators (written from contracts/) and tests/connectors/* send them."""
    amo = "contacts[update][0]"
    amocrm = urlencode([
        (f"{amo}[id]", "__ID__"), (f"{amo}[name]", "Клиент Бенчмарков"), (f"{amo}[date_create]", "1700000000"),
        (f"{amo}[last_modified]", "__TS__"), (f"{amo}[updated_at]", "__TS__"),
        (f"{amo}[custom_fields][0][id]", "501"), (f"{amo}[custom_fields][0][code]", "PHONE"),
        (f"{amo}[custom_fields][0][values][0][value]", "+79990000000"),
        (f"{amo}[custom_fields][0][values][0][enum]", "WORK"),
        (f"{amo}[custom_fields][1][id]", "502"), (f"{amo}[custom_fields][1][code]", "EMAIL"),
        (f"{amo}[custom_fields][1][values][0][value]", "bench@example.com"),
        (f"{amo}[custom_fields][1][values][0][enum]", "WORK"),
        ("account[subdomain]", AMO_SUBDOMAIN), ("account[id]", "29000001"),
    ])
    bitrix24 = urlencode([
        ("event", "ONCRMCONTACTUPDATE"), ("data[FIELDS][ID]", "__ID__"), ("ts", "__TS__"),
        ("auth[domain]", "bench.bitrix24.ru"), ("auth[client_endpoint]", "https://bench.bitrix24.ru/rest/"),
        ("auth[server_endpoint]", "https://oauth.bitrix.info/rest/"), ("auth[member_id]", "a1b2c3d4e5f6"),
        ("auth[application_token]", B24_TOKEN),
    ])
    user = {"id": 5_000_000_001, "is_bot": False, "first_name": "Клиент", "language_code": "ru"}
    telegram = json.dumps({"update_id": "__ID__", "message": {
        "message_id": "__ID__", "from": user, "chat": {"id": user["id"], "type": "private", "first_name": "Клиент"},
        "date": "__TS__", "text": "Хочу забронировать день рождения"}}, ensure_ascii=False)
    telegram = re.sub(r'"(__ID__|__TS__)"', r"\1", telegram)  # integers in the real update
    tilda = urlencode([
        ("Name", "Анна"), ("Phone", "+7 (999) 000-00-00"), ("Email", "bench@example.com"), ("Checkbox", "yes"),
        ("Comments", "Хотим день рождения на 10 детей"), ("tranid", "__ID__:1001"), ("formid", "form100000001"),
        ("formname", "Заявка"), ("api_key", TILDA_KEY),
    ])
    form = "application/x-www-form-urlencoded"
    return {
        "amocrm": Payload("amocrm", amocrm, form, ["User-Agent: amoCRM-Webhooks/3.0"]),
        "bitrix24": Payload("bitrix24", bitrix24, form),
        "telegram": Payload("telegram", telegram, "application/json",
                            [f"X-Telegram-Bot-Api-Secret-Token: {TG_SECRET}"]),
        "tilda": Payload("tilda", tilda, form),
    }


def event_id(system: str, event_key: str, payload: dict) -> str:
    """The id the load generator put in the request, read back from the stored row."""
    if system in ("amocrm", "bitrix24"):
        return str(payload.get("id"))
    if system == "telegram":
        return event_key.removeprefix("telegram:")
    return event_key.split(":", 1)[0]  # Tilda's tranid "<id>:1001"


def connection_for(system: str, name: str):  # type: ignore[no-untyped-def]
    """A connection whose secrets the payloads above carry (as tests/connectors/<system> make them)."""
    from hub.services.connections import connection_upsert

    spec = {
        "amocrm": {"base_url": "https://benchdemo.amocrm.ru", "credentials": {"long_lived_token": "bench"},
                   "settings": {"subdomain": AMO_SUBDOMAIN}},
        "bitrix24": {"base_url": "https://bench.bitrix24.ru",
                     "credentials": {"webhook_url": "https://bench.bitrix24.ru/rest/1/bench/",
                                     "application_token": B24_TOKEN}},
        "telegram": {"credentials": {"token": "7000000001:bench-token", "webhook_secret": TG_SECRET}},
        "tilda": {"credentials": {"api_key": TILDA_KEY}},
    }[system]
    connection, _ = connection_upsert(name=name, system=system, **spec)
    return connection


# ------------------------------------------------------------------------------- environment
def database(args: argparse.Namespace) -> tuple[str | None, str]:
    """(database URL, or None for a temp SQLite; a note for the figures)."""
    if args.database_url == "sqlite":
        return None, "temp SQLite"
    if args.database_url:
        return args.database_url, ""
    url = postgres_throwaway(args.postgres, "bench_intake")
    if url is None:
        print(f"PostgreSQL does not answer at {args.postgres}: a temp SQLite instead", file=sys.stderr)
        return None, "PostgreSQL not reachable: temp SQLite"
    return url, ""


def redis_broker(url: str) -> str:
    """REDIS_URL for the hub (broker, cache), FLUSHED before and after; "" when Redis does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        print(f"Redis does not answer at {url} ({exc}): the filesystem broker instead", file=sys.stderr)
        return ""
    atexit.register(client.flushdb)
    return url


def queued_tasks(redis_url: str) -> int | None:
    """Celery messages waiting in the broker (nobody consumes them here)."""
    if not redis_url:
        return None
    import redis

    return int(redis.Redis.from_url(redis_url).llen("celery"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn serving ``app`` with the config under test. ``stop`` is graceful: when it returns,
    every request gunicorn accepted has been answered, and its row committed."""

    def __init__(self, app: str, health: str, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / f"gunicorn-{self.port}.log"
        options = [item for name, value in GUNICORN.items() for item in (f"--{name}", value)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}", *options,
             "--chdir", str(ROOT), "--pythonpath", str(BENCH), "--graceful-timeout", "30",
             "--error-logfile", str(self.log), "--log-level", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}{health}", timeout=5) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"gunicorn did not answer {health} in 90 s:\n{self.tail()}")
            time.sleep(0.2)  # polling a starting server, with a deadline

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


# ------------------------------------------------------------------------------------- wrk
@dataclass
class WrkRun:
    seconds: float
    ok: int  # answers 2xx
    bad: int  # answers of any other status
    p50_ms: float
    p99_ms: float
    errors: str
    answered_ids: set[str]
    cut_ids: set[str]  # sent, no answer read: in flight when wrk stopped, or lost to a reset
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of the run, by part (see measure)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def cpu_ms(self, part: str, answers: int | None = None) -> str:
        """CPU per answer: unlike events/s, it does not depend on what else the machine runs."""
        seconds, count = self.cpu.get(part), answers if answers is not None else self.ok
        return "?" if seconds is None or not count else f"{seconds * 1000 / count:.2f}"


def wrk(url: str, payload: Payload, seconds: float, connections: int, work_dir: Path, *, quiet: bool = False) -> WrkRun:
    """One wrk run, one connection per thread (see intake.lua: answers are then attributable)."""
    body = work_dir / f"{payload.system}.body"
    body.write_text(payload.body)
    command = ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
               "-s", str(LUA), url, "--", str(body), payload.content_type, *payload.headers]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or "SUMMARY" not in done.stdout:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    if done.stderr.strip() and not quiet:  # the first non-2xx answers, for the reason
        print(done.stderr.strip(), file=sys.stderr)
    answered_ids: set[str] = set()
    cut_ids: set[str] = set()
    ok = bad = 0
    summary: list[int] = []
    for line in done.stdout.splitlines():
        parts = line.split()
        if parts[:1] == ["THREAD"]:
            tid, sent, t_ok, t_bad = (int(p) for p in parts[1:5])
            cut = {i for column in parts[5:7] if column != "-" for i in column.split(",") if i}
            ids = {str(tid * 1_000_000_000 + n) for n in range(1, sent + 1)}
            if len(ids - cut) != t_ok + t_bad:
                raise SystemExit(f"wrk thread accounting does not add up: {line}")
            answered_ids |= ids - cut
            cut_ids |= cut
            ok, bad = ok + t_ok, bad + t_bad
        elif parts[:1] == ["SUMMARY"]:
            summary = [int(p) for p in parts[1:]]
    duration, requests, p50, p99, _max, *errs = summary
    if requests != ok + bad:
        raise SystemExit(f"wrk counted {requests} answers, the script {ok + bad}")
    errors = dict(zip(("connect", "read", "write", "status", "timeout"), errs, strict=True))
    return WrkRun(seconds=duration / 1e6, ok=ok, bad=bad, p50_ms=p50 / 1000, p99_ms=p99 / 1000,
                  errors=", ".join(f"{k} {v}" for k, v in errors.items() if v) or "none",
                  answered_ids=answered_ids, cut_ids=cut_ids)


def cpu_seconds(pids: list[int]) -> float | None:
    """User + system CPU of these processes so far (Linux /proc); None where it cannot be read."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """gunicorn's workers: the processes whose parent is the master."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def database_backends() -> list[int]:
    """PostgreSQL server processes serving this database (gunicorn's connections), when PostgreSQL
    runs on this machine; [] otherwise (then its CPU is not reported)."""
    from django.db import connection

    if connection.vendor != "postgresql" or connection.settings_dict.get("HOST") not in ("127.0.0.1", "localhost"):
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return [pid for (pid,) in cursor.fetchall()]


def measure(app: str, health: str, path: str, payload: Payload, args: argparse.Namespace, work_dir: Path,
            warm_path: str | None = None, quiet: bool = False) -> WrkRun:
    """Start gunicorn, warm it up, measure (with the CPU its workers, and the database processes
    serving them, spent meanwhile), stop it gracefully."""
    server = Gunicorn(app, health, work_dir)
    try:
        wrk(server.url + (warm_path or path), payload, args.warmup, args.connections, work_dir, quiet=quiet)
        parts = {"web": children(server.proc.pid), "db": database_backends() if app.startswith("hub.") else []}
        before = {part: cpu_seconds(pids) for part, pids in parts.items() if pids}
        run = wrk(server.url + path, payload, args.seconds, args.connections, work_dir, quiet=quiet)
        after = {part: cpu_seconds(parts[part]) for part in before}
        run.cpu = {part: after[part] - spent for part, spent in before.items()
                   if spent is not None and after[part] is not None}
        return run
    finally:
        server.stop()


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="measured run per payload (default 10)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up run before each measured one")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (one thread each)")
    parser.add_argument("--database-url", help='use this database as it is ("sqlite": a temp SQLite)')
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                        help="server to create the throwaway database on")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="a spare Redis db: it is FLUSHED")
    parser.add_argument("--only", choices=SYSTEMS, action="append", help="bench these payloads only")
    parser.add_argument("--worker-class", default=GUNICORN["worker-class"], choices=["gthread", "sync"],
                        help="to compare; hub and ceiling alike")
    parser.add_argument("--threads", default=GUNICORN["threads"], help="per gthread worker, to compare")
    args = parser.parse_args()
    GUNICORN.update({"worker-class": args.worker_class, "threads": str(args.threads)})
    if args.worker_class == "sync":
        del GUNICORN["threads"]  # a sync worker serves one request at a time, and closes every connection
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make benchtools` (or apt-get install wrk)")

    database_url, db_note = database(args)
    redis_url = redis_broker(args.redis_url)
    # Inherited by gunicorn: production settings (tasks published, not run; broker = REDIS_URL)
    # and production log level.
    for name in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DEBUG", "REDIS_URL"):
        os.environ.pop(name, None)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    os.environ["LOG_LEVEL"] = "INFO"
    setup_django(database_url)

    from django.conf import settings

    from hub.models import Connection, Inbox

    Inbox.objects.filter(connection__name__startswith=NAME).delete()  # a previous run on --database-url
    Connection.objects.filter(name__startswith=NAME).delete()
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    conf = (f"gunicorn {GUNICORN['worker-class']} {GUNICORN['workers']}×{GUNICORN['threads']}, "
            f"keep-alive {GUNICORN['keep-alive']} s") if "threads" in GUNICORN else (
        f"gunicorn {GUNICORN['worker-class']} {GUNICORN['workers']}")
    shared = {"db": engine + (f" ({db_note})" if db_note else ""), "broker": "redis" if redis_url else "filesystem",
              "server": conf, "wrk": f"{args.connections} conn, {args.seconds:g} s",
              "load avg before": f"{os.getloadavg()[0]:.1f}"}
    work_dir = Path(tempfile.mkdtemp(prefix="hub-bench-intake-"))
    atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
    bodies = payloads()
    print(f"{conf}; wrk {args.connections} connections, {args.seconds:g} s after {args.warmup:g} s of warm-up; "
          f"db {shared['db']}, broker {shared['broker']}; load average {shared['load avg before']}")

    ceiling = measure("webhook_intake:ceiling_app", "/", "/", bodies["amocrm"], args, work_dir)
    print(f"ceiling (minimal WSGI 200 OK): {ceiling.rate:.0f} req/s, p50 {ceiling.p50_ms:.2f} ms, "
          f"p99 {ceiling.p99_ms:.2f} ms, gunicorn CPU {ceiling.cpu_ms('web')} ms/request")
    django = measure("hub.wsgi:application", "/healthz", "/bench-not-found/", bodies["amocrm"], args, work_dir,
                     quiet=True)
    if django.ok:
        raise SystemExit(f"/bench-not-found/ answered 2xx {django.ok} times: not a 404")
    django_rate = django.bad / django.seconds
    print(f"Django 404 (middleware and routing, no database: the most any view could do): {django_rate:.0f} req/s, "
          f"{django_rate / ceiling.rate:.0%} of the ceiling, "
          f"gunicorn CPU {django.cpu_ms('web', django.bad)} ms/request")

    rows: list[tuple[str, dict[str, str]]] = []
    failures: list[str] = []
    for system in args.only or SYSTEMS:
        payload = bodies[system]
        warm = connection_for(system, f"{NAME} {system} warm-up")  # its rows are not counted
        measured = connection_for(system, f"{NAME} {system}")
        queued_before = queued_tasks(redis_url)
        run = measure("hub.wsgi:application", "/healthz", measured.webhook_path, payload, args, work_dir,
                      warm_path=warm.webhook_path)
        stored = {event_id(system, key, data): status for key, data, status in
                  Inbox.objects.filter(connection=measured).values_list("event_key", "payload", "status")}
        durable = len(run.answered_ids & stored.keys())
        cut_stored = len(run.cut_ids & stored.keys())
        strays = len(stored.keys() - run.answered_ids - run.cut_ids)
        rejected = sum(1 for status in stored.values() if status == Inbox.Status.REJECTED)
        queued = "" if queued_before is None else (
            f"; tasks queued {queued_tasks(redis_url) - queued_before} for "
            f"{Inbox.objects.filter(connection__in=[warm, measured]).count()} rows (warm-up included)")
        print(f"{system}: {run.rate:.0f} events/s, p50 {run.p50_ms:.2f} ms, p99 {run.p99_ms:.2f} ms, "
              f"{run.rate / ceiling.rate:.0%} of the ceiling; 2xx answers {run.ok}, their rows {durable} "
              f"(+{cut_stored} of {len(run.cut_ids)} requests cut in flight stored), non-2xx {run.bad}, "
              f"socket errors: {run.errors}{queued}; CPU per event: gunicorn {run.cpu_ms('web')} ms, "
              f"PostgreSQL {run.cpu_ms('db')} ms")
        if durable != run.ok or run.bad or strays or rejected:
            failures.append(f"{system}: 2xx {run.ok} but rows of answered events {durable}; non-2xx {run.bad}; "
                            f"rows nobody sent {strays}; rejected rows {rejected}")
            print(f"!! DURABILITY CHECK FAILED: {failures[-1]}", file=sys.stderr)
        rows.append((system, {
            "events/s": f"{run.rate:.0f}", "p50 ms": f"{run.p50_ms:.1f}", "p99 ms": f"{run.p99_ms:.1f}",
            "of ceiling": f"{run.rate / ceiling.rate:.0%}", "2xx": str(run.ok), "durable rows": str(durable),
            "durable == 2xx": "yes" if durable == run.ok and not run.bad and not strays else "NO",
            "CPU ms/event web": run.cpu_ms("web"), "CPU ms/event db": run.cpu_ms("db"),
        }))

    record("webhook intake ceiling (minimal WSGI 200 OK)", {
        "req/s": f"{ceiling.rate:.0f}", "p50 ms": f"{ceiling.p50_ms:.1f}", "p99 ms": f"{ceiling.p99_ms:.1f}",
        "CPU ms/req": ceiling.cpu_ms("web"),
        "Django 404 (no db) req/s": f"{django_rate:.0f} ({django_rate / ceiling.rate:.0%} of ceiling)",
        "Django 404 CPU ms/req": django.cpu_ms("web", django.bad), **shared})
    for system, figures in rows:
        record(f"webhook intake, {system}", {**figures, **shared})
    if failures:
        raise SystemExit("durability check failed: " + " | ".join(failures))


if __name__ == "__main__":
    main()
