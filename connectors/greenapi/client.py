"""HTTP client of Green-API: the instance id and token travel in the path
(``/waInstance{id}/{method}/{token}``), so the token is cut out of every log line, metric and
error message this client produces. Answers become the sync engine's typed errors: a rejected
token → AuthError, 429 → RateLimited (one second: the limits are per second), 5xx and timeouts
→ RetryableError, a refusal of the message itself (400, 466) → ``GreenApiRefusal``, which the
adapter turns into ``SendRefused``."""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.greenapi import mapping
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError, RetryableError


class GreenApiRefusal(FatalError):
    """Green-API refused this request for good (bad chat id, plan limits); ``reason`` is Russian."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"{mapping.SYSTEM}:{connection.pk}",
                       str((connection.settings or {}).get("rate_limit", mapping.DEFAULT_RATE_LIMIT)))


class GreenApiClient(HttpClient):
    system = mapping.SYSTEM

    def __init__(self, connection: Connection) -> None:
        credentials = connection.credentials or {}
        super().__init__(connection.base_url or mapping.DEFAULT_BASE_URL, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.id_instance = str(credentials.get("id_instance") or "").strip()
        self.api_token = str(credentials.get("api_token") or "").strip()

    def call(self, http_method: str, method: str, body: dict[str, Any] | None = None) -> Any:
        """One API method; its decoded JSON answer."""
        if not self.id_instance or not self.api_token:
            raise AuthError("В подключении Green-API не заданы id_instance и api_token.")
        path = mapping.method_path(self.id_instance, method, self.api_token)
        response = self.request(http_method, path, **({"json": body} if body is not None else {}))
        try:
            return response.json()
        except ValueError as exc:
            raise RetryableError(f"Green-API: {method} answered non-JSON: {response.text[:200]!r}") from exc

    def url_secrets(self) -> tuple[str, ...]:
        return (self.api_token,)  # it is part of every method's path

    # answers → typed errors ---------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        detail = mapping.error_detail(_body(response))
        return self.hide(f"Green-API HTTP {response.status_code}" + (f": {detail}" if detail else ""))

    def retry_after_for(self, response: requests.Response) -> float | None:
        return 1.0 if response.status_code == 429 else None

    def classify(self, response: requests.Response) -> None:
        status = response.status_code
        detail = self.hide(mapping.error_detail(_body(response)))
        suffix = f" ({detail})" if detail else ""
        if status in (401, 403):
            raise AuthError(mapping.AUTH_TEXT + suffix)
        if status == 400:
            raise GreenApiRefusal(mapping.BAD_REQUEST_TEXT + suffix + ".", status=status)
        if status == 466:
            raise GreenApiRefusal(mapping.QUOTA_TEXT + suffix + ".", status=status)
