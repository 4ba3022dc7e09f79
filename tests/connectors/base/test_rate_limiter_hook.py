"""``Connector.rate_limiter``: the very limiter each system's client waits on (same key, rate,
slack and pacing), so the dashboard's headroom is the clients' headroom."""

from __future__ import annotations

import importlib
import inspect

import pytest
from django.conf import settings

from connectors.base.http import HttpClient
from hub.models import Connection
from hub.sync import registry

pytestmark = pytest.mark.django_db


def client_class(system: str) -> type[HttpClient] | None:
    try:
        module = importlib.import_module(f"connectors.{system}.client")
    except ModuleNotFoundError:
        return None
    found = [c for _, c in inspect.getmembers(module, inspect.isclass)
             if issubclass(c, HttpClient) and c is not HttpClient and c.__module__ == module.__name__]
    assert len(found) == 1, system
    return found[0]


@pytest.mark.parametrize("system", [s for s, _ in registry.systems()])
def test_the_hook_returns_the_clients_limiter(system):
    connection = Connection.objects.create(name=system, system=system, base_url="http://127.0.0.1:9",
                                           settings={"rate_limit": "13/minute"})
    hooked = registry.get(system).rate_limiter(connection)
    cls = client_class(system)
    if cls is None:  # a system we never call over HTTP (Tilda posts to us, e-mail goes by SMTP)
        assert hooked is None
        return
    used = cls(connection).rate_limiter
    assert (hooked.key, hooked.item, hooked.slack, hooked.interval) == (used.key, used.item, used.slack, used.interval)
    assert (hooked.key, hooked.item.amount) == (f"{system}:{connection.pk}", 13)
    storage = type(hooked.limiter.storage).__name__
    assert storage == ("RedisStorage" if settings.REDIS_URL else "MemoryStorage")
    used.limiter.clear(used.item, "hub", used.key)  # Redis outlives test databases
    assert used.try_acquire()
    assert hooked.headroom() == 12
    used.limiter.clear(used.item, "hub", used.key)
