"""Rate limits per external account, shared by every worker when Redis is configured.

Built on ``limits`` (moving window): Redis storage with REDIS_URL, in-process memory
otherwise (the embedded default runs one worker).
"""

from __future__ import annotations

import time
from functools import lru_cache

from django.conf import settings
from limits import parse
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from hub.sync.errors import RateLimited

_last_call: dict[str, float] = {}  # per process: when each key last got a slot (for pacing)


class RateLimitTimeout(RateLimited):
    """Waited longer than allowed for a free slot: the work is retried later, like a 429."""


class LimiterUnavailable(RateLimited):
    """The limiter's store (Redis) did not answer, so nobody can tell whether a slot is free:
    the work is retried later like after a 429, without using up attempts. A typed SyncError,
    so a connector keeps what the requests before this one already wrote."""


@lru_cache(maxsize=4)
def _limiter(storage_uri: str) -> MovingWindowRateLimiter:
    # Timeouts: a Redis that hangs (not refuses) must fail the acquire, not hold a worker past
    # its outbox lease.
    options = {"socket_timeout": 5, "socket_connect_timeout": 5} if storage_uri.startswith("redis") else {}
    return MovingWindowRateLimiter(storage_from_string(storage_uri, wrap_exceptions=True, **options))


def storage_uri() -> str:
    return settings.REDIS_URL or "memory://"


class RateLimiter:
    """``RateLimiter("amocrm:12", "7/second").acquire()`` blocks until a slot is free."""

    def __init__(self, key: str, rate: str, *, storage: str | None = None, slack: float = 0.0,
                 pace: bool = False) -> None:
        """``slack``: extra seconds waited past the window's end, because the provider
        counts arrivals, which lag our acquisitions by a jittery few milliseconds.
        ``pace``: also space this process's calls evenly (1/rate apart) instead of bursting
        a whole window at once, so arrival jitter cannot squeeze two windows into one."""
        self.key = key
        self.item = parse(rate)
        self.limiter = _limiter(storage or storage_uri())
        self.slack = slack
        self.interval = self.item.get_expiry() / self.item.amount if pace else 0.0

    def try_acquire(self) -> bool:
        return self.limiter.hit(self.item, "hub", self.key)

    def acquire(self, timeout: float = 60.0) -> None:
        try:
            self._acquire(timeout)
        except StorageError as exc:
            raise LimiterUnavailable(f"rate limit store unavailable for {self.key}: "
                                     f"{type(exc.storage_error).__name__}") from exc

    def _acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if self.interval:
            wait = _last_call.get(self.key, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        while not self.limiter.hit(self.item, "hub", self.key):
            stats = self.limiter.get_window_stats(self.item, "hub", self.key)
            wait = max(0.005, min(stats.reset_time - time.time() + self.slack, 1.0 + self.slack))
            if time.monotonic() + wait > deadline:
                raise RateLimitTimeout(f"no free slot for {self.key} within {timeout}s", retry_after=wait)
            time.sleep(wait)
        _last_call[self.key] = time.monotonic()

    def headroom(self) -> int:
        return self.limiter.get_window_stats(self.item, "hub", self.key).remaining
