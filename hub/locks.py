"""Named cross-process locks: Redis when configured, file locks on the embedded default."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.conf import settings

log = logging.getLogger(__name__)


class LockTimeout(Exception):
    """The lock was held by someone else for longer than we were willing to wait."""


@contextmanager
def named_lock(name: str, timeout: float = 30.0, wait: float = 30.0, *, renew: bool = False) -> Iterator[None]:
    """Hold ``name`` across processes; ``timeout`` bounds how long a crashed holder blocks.
    ``renew``: the lock is extended every ``timeout / 3`` while held, so work of any length
    keeps it, yet a holder killed with SIGKILL frees it within ``timeout`` (file locks are
    freed by the kernel at once)."""
    if settings.REDIS_URL:
        from redis.exceptions import LockError

        from hub.redis import redis_client

        # Not thread-local: the renewing thread must see the token this thread acquired with.
        lock = redis_client().lock(f"hub:lock:{name}", timeout=timeout, blocking_timeout=wait, thread_local=False)
        if not lock.acquire():
            raise LockTimeout(name)
        stop = threading.Event()
        if renew:
            threading.Thread(target=_keep, args=(lock, timeout, stop), daemon=True, name=f"lock:{name}").start()
        try:
            yield
        finally:
            stop.set()
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


def _keep(lock: object, timeout: float, stop: threading.Event) -> None:
    """Extend a held Redis lock back to its full timeout until told to stop. A Redis hiccup is
    retried until the lock would have expired; only a lock no longer ours (expired, Redis
    restarted empty) ends the renewals."""
    import time

    from redis.exceptions import LockNotOwnedError, RedisError

    expires = time.monotonic() + timeout
    while not stop.wait(timeout / 3 if time.monotonic() + timeout / 3 < expires else 0.5):
        try:
            lock.reacquire()  # type: ignore[attr-defined]
            expires = time.monotonic() + timeout
        except LockNotOwnedError:
            log.warning("lock %s lost while held", getattr(lock, "name", "?"))
            return
        except RedisError:
            if time.monotonic() >= expires:
                return
