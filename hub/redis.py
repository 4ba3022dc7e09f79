"""One Redis client per process, only when REDIS_URL is configured."""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def redis_for(url: str) -> redis.Redis:
    """A client for another Redis than REDIS_URL (the broker's, when it is set apart)."""
    return _client(url)


def redis_client() -> redis.Redis:
    if not settings.REDIS_URL:
        raise RuntimeError("REDIS_URL is not configured")
    return _client(settings.REDIS_URL)
