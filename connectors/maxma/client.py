"""HTTP client of MAXMA's processing API: the processing key in ``X-Processing-Key``, every call
``POST /<operation>``, and MAXMA's refusals — HTTP 200 with ``errorCode`` > 0 — turned into
clear ``ProgramError`` messages (a rejected key into ``AuthError``), the shared rate limit."""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.maxma import mapping
from hub.models import Connection
from hub.sync.errors import AuthError
from loyalty.ports import ClientNotFound, ProgramError


class MaxmaError(ProgramError):
    """A refusal with MAXMA's numeric ``errorCode`` (``code`` holds it as text)."""

    def __init__(self, message: str, *, number: int, description: str = "", hint: str = "") -> None:
        super().__init__(message, code=str(number))
        self.number, self.description, self.hint = number, description, hint


class MaxmaClientNotFound(MaxmaError, ClientNotFound):
    pass


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"maxma:{connection.pk}", (connection.settings or {}).get("rate_limit", "20/second"))


class MaxmaClient(HttpClient):
    system = "maxma"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.processing_key = connection.credentials.get("processing_key", "")

    def auth_headers(self) -> dict[str, str]:
        return {mapping.KEY_HEADER: self.processing_key}

    def error_message(self, response: requests.Response) -> str:
        return f"MAXMA HTTP {response.status_code}: {response.text[:200]}"

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """One operation; its answer, or the refusal raised (code 3 → ClientNotFound, 1 → AuthError)."""
        data = self.request_json("POST", f"/{operation}", json=body)
        if not isinstance(data, dict):
            raise ProgramError(f"MAXMA ответил на {operation} в неожиданном виде.", retryable=True)
        raw = data.get("errorCode")
        if raw in (None, 0, "0"):
            return data
        try:
            number = int(raw)
        except (TypeError, ValueError):
            number = -1
        if number == 0:
            return data
        description, hint = str(data.get("description") or ""), str(data.get("hint") or "")
        detail = ": ".join(part for part in (description, hint) if part)
        if number == mapping.ERR_GENERAL:
            raise AuthError(f"{mapping.error_text(number)} ({detail})" if detail else mapping.error_text(number))
        human = mapping.error_text(number)
        error = MaxmaClientNotFound if number == mapping.ERR_CLIENT_NOT_FOUND else MaxmaError
        raise error(f"{human} ({detail})" if detail else human, number=number, description=description, hint=hint)
