"""HTTP client of the VK API: ``POST {base}/method/<name>`` with form fields, the community
token and ``v``; VK's refusals (HTTP 200 with ``{"error": {...}}``) turned into the engine's
errors, and the shared rate limit (20 calls a second per community token)."""

from __future__ import annotations

from typing import Any

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.vk import mapping
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError, RateLimited, RetryableError


class VkApiError(FatalError):
    """VK refused the call itself: ``code`` (VK's ``error_code``) and ``error_msg``."""

    def __init__(self, message: str, *, code: int, error_msg: str) -> None:
        super().__init__(message)
        self.code, self.error_msg = code, error_msg


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"vk:{connection.pk}", (connection.settings or {}).get("rate_limit", "20/second"),
                       slack=0.1)  # VK counts arrivals, which lag ours


class VkClient(HttpClient):
    system = "vk"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url or mapping.DEFAULT_BASE_URL, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.access_token = str((connection.credentials or {}).get("access_token") or "")

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One API method; its ``response``, or VK's refusal raised."""
        if not self.access_token:
            raise AuthError("VK: в подключении не указан ключ доступа сообщества (access_token).")
        data = self.request_json("POST", f"/method/{method}",
                                 data={**(params or {}), "access_token": self.access_token, "v": mapping.API_VERSION})
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            raise self._refusal(method, data["error"])
        if not isinstance(data, dict) or "response" not in data:
            raise RetryableError(f"VK: unexpected answer to {method}: {str(data)[:200]}")
        return data["response"]

    @staticmethod
    def _refusal(method: str, error: dict[str, Any]) -> Exception:
        code = error.get("error_code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else 0
        text = str(error.get("error_msg") or "")
        message = f"VK {method}: {code} {text}"
        if code in mapping.RATE_LIMITS:
            return RateLimited(message, retry_after=mapping.RATE_LIMITS[code])
        if code in mapping.AUTH_ERRORS:
            return AuthError(f"{message} — проверьте ключ доступа сообщества (access_token) в подключении.")
        if code in mapping.RETRYABLE or code == 0:
            return RetryableError(message)
        return VkApiError(message, code=code, error_msg=text)
