"""Named cross-process locks: Redis when configured, file locks on the embedded default."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.conf import settings


class LockTimeout(Exception):
    """The lock was held by someone else for longer than we were willing to wait."""


@contextmanager
def named_lock(name: str, timeout: float = 30.0, wait: float = 30.0) -> Iterator[None]:
    """Hold ``name`` across processes; ``timeout`` bounds how long a crashed holder blocks."""
    if settings.REDIS_URL:
        from redis.exceptions import LockError

        from hub.redis import redis_client

        lock = redis_client().lock(f"hub:lock:{name}", timeout=timeout, blocking_timeout=wait)
        if not lock.acquire():
            raise LockTimeout(name)
        try:
            yield
        finally:
            with suppress(LockError):  # expired meanwhile: nothing left to release
                lock.release()
        return
    from filelock import FileLock, Timeout

    settings.HUB_LOCK_DIR.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    lock = FileLock(str(settings.HUB_LOCK_DIR / f"{digest}.lock"), timeout=wait)
    try:
        with lock:
            yield
    except Timeout as exc:
        raise LockTimeout(name) from exc
