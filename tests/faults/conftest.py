"""Fixtures of the process-level fault tests: our own Redis, hub processes on the test
database, emulators the worker subprocesses reach over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from hub.celery import app as celery_app
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.faults.processes import HubProcesses, RedisServer
from tests.faults.targets import CountingWebhookEmulator, Target


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


@pytest.fixture
def hub_processes(transactional_db: None, tmp_path: Path, redis_server: RedisServer) -> Iterator[HubProcesses]:
    """Workers and beat on the test database (committed rows: transactional tests) with our
    own Redis as broker, cache, locks and limiter; all killed before the database is flushed."""
    processes = HubProcesses(tmp_path, redis_server.url())
    celery_app.conf.task_always_eager = False
    try:
        yield processes
    finally:
        celery_app.conf.task_always_eager = True
        processes.close()
        print(processes.logs())  # shown with a failure  # noqa: T201


@pytest.fixture
def webhook_target(transactional_db: None) -> Iterator[Target]:
    """In our process, to count every event it is sent (``app.sent_ids``)."""
    with RunningEmulator(CountingWebhookEmulator()) as emulator:
        creds = emulator.app.state()["credentials"]
        connection, _ = connection_upsert(
            name="Site", system="webhook", base_url=emulator.url,
            credentials={"token": creds["token"], "secret": creds["secret"]},
            settings={"max_attempts": 5, "rate_limit": "50/second"}, poll_interval=3600,
        )
        # Beat's pulls stay away from it: the tests count what the workers send.
        Connection.objects.filter(pk=connection.pk).update(last_pull_at=timezone.now())
        yield Target(connection, emulator.url, "/events", app=emulator.app)


@pytest.fixture
def amocrm_target(transactional_db: None) -> Iterator[Target]:
    """In a process of its own: its per-second window counts arrivals on a clock our polling
    and GIL do not delay, as amoCRM's is."""
    with EmulatorProcess("amocrm") as emulator:
        creds = emulator.state()["credentials"]
        connection, _ = connection_upsert(
            name="amoCRM", system="amocrm", base_url=emulator.url,
            credentials={k: creds[k] for k in ("client_id", "client_secret", "redirect_uri", "authorization_code")},
            settings={"subdomain": "demo", "max_attempts": 5},  # rate limit: amoCRM's own 7/s
        )
        yield Target(connection, emulator.url, "/api/v4/contacts")
