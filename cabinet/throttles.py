"""Per-address limits on signing in, shared by the API and the pages (DRF throttling over the
configured cache: Redis when REDIS_URL is set, so every web process counts together). They
bound how many numbers one address can try (SMS cost, finding out who is a client); the
per-phone limits are the one-time codes' own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

#: requests per address; ``settings.CABINET_THROTTLE_RATES`` overrides (a venue's Wi-Fi is one address)
RATES = {"cabinet_code": "30/hour", "cabinet_verify": "60/hour"}


class _AddressThrottle(SimpleRateThrottle):
    def get_rate(self) -> str:
        return {**RATES, **getattr(settings, "CABINET_THROTTLE_RATES", {})}[self.scope]

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class CodeThrottle(_AddressThrottle):
    scope = "cabinet_code"


class VerifyThrottle(_AddressThrottle):
    scope = "cabinet_verify"


def throttle_wait(throttle_class: type[_AddressThrottle], request: Any) -> int | None:
    """For the pages: None when this request is within the limit, else seconds to wait."""
    throttle = throttle_class()
    if throttle.allow_request(request, None):
        return None
    return max(1, int((throttle.wait() or 1) + 0.999))
