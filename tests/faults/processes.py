"""Real processes for the fault tests: a redis-server of our own, Celery workers and beat on
the test database. Each runs in its own process group, so a test can SIGKILL it as a crash
would, and teardown kills whatever is left even when the test failed."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection as db_connection
from kombu import Connection as BrokerConnection

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
DRAINED = re.compile(r"outbox_drain_task\[[^\]]+\] succeeded in [\d.e-]+s: (\d+)")  # Celery's log line


def wait_for(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05,
             explain: Callable[[], object] | None = None) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` (and what
    ``explain`` says about the state then) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}" + (f"; {explain()}" if explain else ""))
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database (pytest-django's), as the URL a subprocess's settings read."""
    db = db_connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return "sqlite:///" + str(Path(db["NAME"]).resolve())
    auth = quote(db["USER"] or "", safe="") + (":" + quote(db["PASSWORD"], safe="") if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or ''}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"


class RedisServer:
    """``redis-server`` on a free port, without persistence: a restart comes back empty, as a
    Redis that lost its memory does (broker queue, limiter windows, locks all gone)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        log_path = self.directory / f"redis-{self.port}.log"
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.directory)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, f"redis-server exited:\n{log_path.read_text()}"
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(up, 10, f"redis-server on port {self.port}")
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown save, clients see their connections reset."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class HubProcess:
    """A ``celery -A hub …`` process group with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], directory: Path) -> None:
        self.name = name
        self.log_path = directory / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "hub", *args], cwd=directory, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = 30) -> None:
        def seen() -> bool:
            assert self.alive() or text in self.log(), f"{self.name} exited:\n{self.log()[-3000:]}"
            return text in self.log()

        wait_for(seen, timeout, f"{text!r} in {self.name}'s log", interval=0.1)

    def _scan(self) -> list[tuple[int, list[str]]]:
        """(pid, fields after the command name in /proc/<pid>/stat) of every process."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    found.append((int(entry.name), (entry / "stat").read_text().rsplit(")", 1)[1].split()))
                except OSError:
                    continue
        return found

    def drains(self) -> list[int]:
        """What each outbox drain this worker finished reported (rows sent or retried)."""
        return [int(n) for n in DRAINED.findall(self.log())]

    def children(self) -> list[int]:
        """Pids whose parent is this process (a prefork worker's pool processes)."""
        return [pid for pid, fields in self._scan() if int(fields[1]) == self.pid]

    def kill(self) -> None:
        """SIGKILL the whole group (main process, pool, embedded beat): a crash, no clean-up."""
        if self.proc.returncode is None:  # not reaped yet: the group id cannot belong to anyone else
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        else:  # the main process is gone: whatever is left of its session and group
            for pid, fields in self._scan():
                if int(fields[2]) == self.pid and int(fields[3]) == self.pid:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


class HubProcesses:
    """Starts workers and beat against the test database and ``redis_url``; ``close`` kills them."""

    def __init__(self, directory: Path, redis_url: str) -> None:
        self.directory = directory
        self.redis_url = redis_url
        self.started: list[HubProcess] = []

    def env(self, **knobs: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "PYTEST_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="hub.settings",
            DATABASE_URL=database_url(),
            REDIS_URL=self.redis_url,
            SECRET_KEY=settings.SECRET_KEY,  # credentials at rest are encrypted with keys derived from it
            HUB_VAR_DIR=str(self.directory / "var"),  # its own file cache and locks
            PYTHONPATH=str(ROOT),  # run from the test's directory: nothing written into the tree
            LOG_FORMAT="text",
            **knobs,
        )
        if settings.FIELD_ENCRYPTION_KEYS:
            env["FIELD_ENCRYPTION_KEYS"] = ",".join(settings.FIELD_ENCRYPTION_KEYS)
        return env

    def worker(self, name: str, *, wait: bool = True, **knobs: str) -> HubProcess:
        """One worker, one pool process, as in the Procfile; ``wait``: until it consumes."""
        node = f"{name}-{uuid.uuid4().hex[:6]}@faults"
        process = HubProcess(name, ["worker", "--loglevel", "INFO", "--concurrency", "1", "--pool", "prefork",
                                    "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", node],
                             self.env(**knobs), self.directory)
        self.started.append(process)
        if wait:
            process.wait_log(" ready.")
        return process

    def beat(self, **knobs: str) -> HubProcess:
        """Beat with the production scheduler (django-celery-beat, schedule from settings)."""
        process = HubProcess("beat", ["beat", "--loglevel", "INFO"], self.env(**knobs),
                             self.directory)
        self.started.append(process)
        return process

    def send_drain(self, count: int = 1) -> None:
        """Put ``count`` outbox-drain messages on the broker, as beat does."""
        from hub.celery import app

        with BrokerConnection(self.redis_url) as broker:
            for _ in range(count):
                app.send_task("hub.tasks.outbox_drain_task", connection=broker)

    def logs(self) -> str:
        return "\n".join(f"----- {p.name}\n{p.log()[-4000:]}" for p in self.started)

    def close(self) -> None:
        for process in self.started:
            process.kill()
