"""HTTP client of the Telegram Bot API: ``POST {base}/bot<token>/<method>`` with JSON, Telegram's
``{ok: false, error_code, description, parameters}`` turned into the engine's errors, and the
shared rate limits (about 30 calls a second per bot, about 1 message a second per chat).

The token is part of every URL, so it is taken out of everything this client logs, measures or
puts in an error message."""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.telegram import mapping
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError, RetryableError, SyncError

SLACK = 0.1  # s past a full window: Telegram counts arrivals, which lag our acquisitions


class TelegramApiError(FatalError):
    """Telegram refused the call itself (400, 403…): ``code`` and ``description`` as it said."""

    def __init__(self, message: str, *, code: int, description: str) -> None:
        super().__init__(message)
        self.code, self.description = code, description


def _error(data: Any) -> tuple[int, str, float | None]:
    """(error_code, description, retry_after) of a Telegram error body; zeros when unreadable."""
    data = data if isinstance(data, dict) else {}
    code = data.get("error_code")
    parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    return (code if isinstance(code, int) and not isinstance(code, bool) else 0,
            str(data.get("description") or ""),
            float(retry_after) if isinstance(retry_after, int | float) and not isinstance(retry_after, bool) else None)


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"telegram:{connection.pk}", (connection.settings or {}).get("rate_limit", "30/second"),
                       slack=SLACK)


class TelegramClient(HttpClient):
    system = "telegram"

    def __init__(self, connection: Connection) -> None:
        settings = connection.settings or {}
        super().__init__(connection.base_url or mapping.DEFAULT_BASE_URL, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.token = str((connection.credentials or {}).get("token") or "")
        self.chat_rate = str(settings.get("chat_rate_limit", "1/second"))

    def chat_limiter(self, chat_id: int) -> RateLimiter:
        """Telegram's second limit: about one message a second in one chat (shared by workers)."""
        return RateLimiter(f"telegram:{self.connection_id}:chat:{chat_id}", self.chat_rate, slack=SLACK)

    def call(self, method: str, body: dict[str, Any] | None = None) -> Any:
        """One Bot API method; its ``result``, or the refusal raised."""
        if not self.token:
            raise AuthError("Telegram: в подключении не указан токен бота (token).")
        data = self.request_json("POST", f"/bot{self.token}/{method}", json=body or {})
        if not isinstance(data, dict) or data.get("ok") is not True:
            code, description, _ = _error(data)
            raise self._refusal(code, description or f"unexpected answer to {method}")
        return data.get("result")

    # hooks of HttpClient ----------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        code, description, _ = _error(_body(response))
        return f"Telegram {code or response.status_code}: {description or response.reason or 'no description'}"

    def retry_after_for(self, response: requests.Response) -> float | None:
        return _error(_body(response))[2]

    def classify(self, response: requests.Response) -> None:
        if 400 <= response.status_code < 500 and response.status_code not in (408, 409, 429):
            code, description, _ = _error(_body(response))
            raise self._refusal(code or response.status_code, description or response.reason or "")

    def _refusal(self, code: int, description: str) -> SyncError:
        if code in (401, 404):  # a revoked token answers 401, a malformed one 404 (no such bot)
            return AuthError(f"Telegram не принял токен бота ({code} {description}): проверьте token в подключении.")
        if code >= 500 or code in (0, 408, 409):
            return RetryableError(f"Telegram {code}: {description}")
        return TelegramApiError(f"Telegram {code}: {description}", code=code, description=description)

    def url_secrets(self) -> tuple[str, ...]:
        return (self.token,)  # the Bot API puts it in every method's path
