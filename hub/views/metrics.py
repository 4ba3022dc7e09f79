"""/metrics for Prometheus. Guarded by a bearer token (HUB_METRICS_TOKEN); without one,
only direct scrapes from this machine are answered (not through a proxy), so a fresh
install exposes nothing."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from hub.metrics import HubCollector

LOOPBACK = {"127.0.0.1", "::1"}


def _allowed(request: HttpRequest) -> bool:
    token = settings.HUB_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    # Through a proxy on this machine every visitor comes from 127.0.0.1: then a token is needed.
    forwarded = "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META
    return request.META.get("REMOTE_ADDR") in LOOPBACK and not forwarded


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("metrics: a bearer token (HUB_METRICS_TOKEN) is required\n", status=403,
                            content_type="text/plain; charset=utf-8")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
