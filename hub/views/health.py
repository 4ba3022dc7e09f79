"""/healthz: database, broker, Redis (when configured). 200 when all answer, else 503."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def _check_db() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not folder.is_dir():
            raise RuntimeError("broker folder missing")
        return
    from kombu import Connection as BrokerConnection

    with BrokerConnection(url, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1)


def _check_redis() -> None:
    from hub.redis import redis_client

    redis_client().ping()


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _check_db, "broker": _check_broker}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    results: dict[str, dict] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            results[name] = {"ok": False, "error": type(exc).__name__}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    ok = all(r["ok"] for r in results.values())
    return JsonResponse({"status": "ok" if ok else "fail", "checks": results}, status=200 if ok else 503)
