import json
import subprocess
import sys
import textwrap
import uuid

import pytest

from connectors.base.ratelimit import RateLimiter

WORKER = textwrap.dedent("""
    import json, os, sys, time
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    import django
    django.setup()
    from connectors.base.ratelimit import RateLimiter
    key, rate, storage, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    limiter = RateLimiter(key, rate, storage=storage)
    sys.stdin.readline()  # start together
    stamps = []
    for _ in range(n):
        limiter.acquire(timeout=30)
        stamps.append(time.time())
    print(json.dumps(stamps))
""")


@pytest.mark.redis
def test_limit_holds_across_two_processes(redis_url):
    key = f"test:{uuid.uuid4().hex}"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, key, "5/second", redis_url, "8"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    stamps = sorted(t for proc in procs for t in json.loads(proc.communicate(timeout=60)[0]))
    assert len(stamps) == 16
    # In any one-second window, at most 5 acquisitions across both processes. Stamps are
    # taken after acquire() returns, a few ms after the hit was counted: allow 50 ms of slack.
    worst = max(sum(1 for t in stamps if start <= t < start + 0.95) for start in stamps)
    assert worst <= 5
    assert stamps[-1] - stamps[0] >= 2.0  # 16 slots at 5/s need at least three windows


def test_in_process_limiter_refuses_beyond_the_rate():
    limiter = RateLimiter(f"mem:{uuid.uuid4().hex}", "3/minute", storage="memory://")
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert limiter.headroom() == 0
