"""Shared fixtures: Celery runs tasks inline, emulators run on real ports."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from connectors.base.emulator import RunningEmulator
from connectors.webhook.emulator import WebhookSystemEmulator
from hub.celery import app as celery_app
from hub.models import Connection
from hub.services.connections import connection_upsert
from tests.bonus_programs import SIDES, BonusSide, bonus_side
from tests.helpers import HookReceiver
from tests.mailings.fixtures import campaign, consent_texts, email_channel, person  # noqa: F401 - fixtures

LOCAL_REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture(autouse=True)
def _celery_inline() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def redis_url(settings) -> str:  # type: ignore[no-untyped-def]
    """The configured Redis, else the local one; a test that needs Redis fails loudly without."""
    url = settings.REDIS_URL or os.environ.get("REDIS_URL") or LOCAL_REDIS
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        pytest.fail(f"this test needs Redis at {url}: {exc}")
    return url


@pytest.fixture
def hook_receiver() -> Iterator[RunningEmulator]:
    """Where an emulator under test posts its webhooks (``{url}/hook``)."""
    with RunningEmulator(HookReceiver()) as running:
        yield running


@pytest.fixture
def webhook_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(WebhookSystemEmulator(token="emu-token", secret="emu-secret")) as running:
        yield running


@pytest.fixture
def webhook_connection(webhook_emulator: RunningEmulator, db: None) -> Connection:
    state = webhook_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="Site", system="webhook", base_url=webhook_emulator.url,
        credentials={"token": state["token"], "secret": state["secret"]},
        settings={"max_attempts": 3, "rate_limit": "1000/second"},
    )
    return connection


@pytest.fixture(params=sorted(SIDES))
def bonus(request: pytest.FixtureRequest, db: None) -> Iterator[BonusSide]:
    """Each external bonus program in turn, emulated, as the hub's ledger of record."""
    with bonus_side(request.param) as side:
        yield side


@pytest.fixture(params=sorted(s for s, (side, _) in SIDES.items() if side.webhooks))
def bonus_with_webhooks(request: pytest.FixtureRequest, db: None) -> Iterator[BonusSide]:
    """Each external bonus program that tells the hub about changes made at the venue."""
    with bonus_side(request.param) as side:
        yield side
