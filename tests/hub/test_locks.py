import threading
import uuid

import pytest

from hub.locks import LockTimeout, named_lock


def _contend(name: str) -> bool:
    """True when a second holder is refused while the first holds the lock."""
    refused = []
    with named_lock(name, timeout=10, wait=1):
        def other() -> None:
            try:
                with named_lock(name, timeout=10, wait=0.2):
                    refused.append(False)
            except LockTimeout:
                refused.append(True)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    with named_lock(name, timeout=10, wait=0.2):  # free again once released
        pass
    return refused == [True]


def test_file_lock_excludes_a_second_holder(settings, tmp_path):
    settings.REDIS_URL = ""
    settings.HUB_LOCK_DIR = tmp_path
    assert _contend(f"t-{uuid.uuid4().hex}")


@pytest.mark.redis
def test_redis_lock_excludes_a_second_holder(settings, redis_url):
    from hub.redis import _client

    settings.REDIS_URL = redis_url
    _client.cache_clear()
    assert _contend(f"t-{uuid.uuid4().hex}")


def _held_elsewhere(name: str) -> bool:
    try:
        with named_lock(name, timeout=5, wait=0):
            return False
    except LockTimeout:
        return True


@pytest.mark.redis
def test_a_renewed_lock_outlives_its_timeout_while_held(settings, redis_url):
    from hub.redis import _client

    settings.REDIS_URL = redis_url
    _client.cache_clear()
    name = f"t-{uuid.uuid4().hex}"
    with named_lock(name, timeout=0.5, wait=1, renew=True):
        passed = threading.Event()
        passed.wait(1.5)  # three timeouts go by while the work goes on
        assert _held_elsewhere(name)
    assert not _held_elsewhere(name)


@pytest.mark.redis
def test_a_holder_killed_mid_work_frees_a_renewed_lock_within_its_timeout(settings, redis_url):
    import os
    import signal
    import subprocess
    import sys
    import time

    from hub.redis import _client

    settings.REDIS_URL = redis_url
    _client.cache_clear()
    name = f"t-{uuid.uuid4().hex}"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import django, sys, threading; django.setup(); from hub.locks import named_lock\n"
         f"with named_lock({name!r}, timeout=1, wait=5, renew=True):\n"
         "    print('held', flush=True); threading.Event().wait(60)"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hub.settings", "REDIS_URL": redis_url},
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _held_elsewhere(name)
        holder.send_signal(signal.SIGKILL)
        holder.wait(5)
        started = time.monotonic()
        with named_lock(name, timeout=5, wait=3):
            assert time.monotonic() - started < 1.5  # the lock's timeout, not the hour a pull may take
    finally:
        holder.kill()
