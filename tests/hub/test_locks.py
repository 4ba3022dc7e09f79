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
