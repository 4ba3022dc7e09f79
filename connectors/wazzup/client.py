"""HTTP client of the Wazzup API v3: the key in ``Authorization: Bearer``, the shared rate
limit (500 requests per 5 s per key), and Wazzup's error answers — ``{"error": CODE,
"description"}`` — sorted by what the hub should do: a wrong key or a misconfigured channel →
AuthError (an operator has to fix the connection), 429 → RateLimited, 5xx, timeouts and an
unreachable channel → RetryableError, a refusal of this message → ``WazzupError`` with kind
``refused`` (the adapter raises ``SendRefused``)."""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.wazzup import mapping
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError, RetryableError


class WazzupError(FatalError):
    """A 4xx Wazzup gave for this request: ``kind`` is mapping.REFUSED, REPEATED or "fatal"."""

    def __init__(self, reason: str, *, code: str, status: int, kind: str) -> None:
        super().__init__(reason)
        self.reason, self.code, self.status, self.kind = reason, code, status, kind


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"{mapping.SYSTEM}:{connection.pk}",
                       str((connection.settings or {}).get("rate_limit", mapping.DEFAULT_RATE_LIMIT)))


class WazzupClient(HttpClient):
    system = mapping.SYSTEM
    max_inline_wait = 1.0  # Wazzup's window is 5 s: a worker should not sleep through it

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url or mapping.DEFAULT_BASE_URL, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.api_key = str((connection.credentials or {}).get("api_key") or "").strip()

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if not self.api_key:
            raise AuthError("В подключении Wazzup не задан api_key.")
        return self.request_json(method, path, **({"json": body} if body is not None else {}))

    def send_message(self, body: dict[str, Any]) -> dict[str, Any]:
        data = self.call("POST", mapping.MESSAGE_PATH, body)
        return data if isinstance(data, dict) else {}

    def channels(self) -> list[dict[str, Any]]:
        data = self.call("GET", mapping.CHANNELS_PATH)
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    # answers → typed errors ---------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        code, description = mapping.error_fields(_body(response))
        detail = ": ".join(part for part in (code, description) if part)
        return f"Wazzup HTTP {response.status_code}" + (f": {detail}" if detail else "")

    def retry_after_for(self, response: requests.Response) -> float | None:
        return mapping.RATE_WINDOW if response.status_code == 429 else None

    def classify(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400 or status >= 500 or status in (408, 409, 423, 425):
            return  # the base's mapping: 5xx and these are retried
        code, description = mapping.error_fields(_body(response))
        detail = ": ".join(part for part in (code, description) if part)
        suffix = f" ({detail})" if detail else ""
        if status == 401:
            raise AuthError(mapping.AUTH_TEXT + suffix)
        if status == 403:
            raise AuthError(mapping.FORBIDDEN_TEXT + suffix)
        kind, text = mapping.error_kind(code, status)
        reason = f"{text}{suffix}."
        if kind == mapping.CONFIG:
            raise AuthError(reason)
        if kind == mapping.RETRY:
            raise RetryableError(reason)
        raise WazzupError(reason, code=code, status=status, kind=kind)
