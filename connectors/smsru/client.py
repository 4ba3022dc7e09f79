"""HTTP client of SMS.ru: ``api_id`` and the message go in a POST body (never in the URL, so
neither the key nor the phone lands in access logs), answers are JSON (``json=1``), and SMS.ru's
refusals — HTTP 200 with ``status: "ERROR"`` — become the engine's typed errors or
``SendRefused``, per ``mapping.ERRORS``. One rate limiter per account, shared by all workers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.channels.problems import problem_raise
from connectors.smsru import mapping
from hub.logging import mask_text
from hub.models import Connection
from hub.sync.errors import AuthError, RetryableError


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    rate = (connection.settings or {}).get("rate_limit", mapping.DEFAULT_RATE_LIMIT)
    return RateLimiter(f"smsru:{connection.pk}", rate)


class SmsruClient(HttpClient):
    system = "smsru"

    def __init__(self, connection: Connection) -> None:
        settings = connection.settings or {}
        super().__init__(connection.base_url or mapping.DEFAULT_BASE_URL, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.api_id = str((connection.credentials or {}).get("api_id") or "")
        self.sender = str(settings.get("sender") or "")

    def error_message(self, response: requests.Response) -> str:
        return f"SMS.ru HTTP {response.status_code}: {mask_text(response.text[:200])}"

    def retry_after_for(self, response: requests.Response) -> float | None:
        """A 429 without Retry-After still means "slow down": a short pause, not an outage."""
        return mapping.RATE_LIMIT_PAUSE if response.status_code == 429 else None

    def call(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One API call; its answer, or SMS.ru's refusal of the request raised."""
        if not self.api_id:
            raise AuthError("В подключении SMS.ru не указан api_id.")
        data = self.request_json("POST", path, data={"api_id": self.api_id, "json": 1, **params})
        if not isinstance(data, dict):
            raise RetryableError(f"SMS.ru ответил на {path} в неожиданном виде.")
        if data.get("status") != mapping.OK:
            code = mapping.code_of(data.get("status_code"))
            if code is None:
                raise RetryableError(f"SMS.ru ответил на {path} без кода результата.")
            problem_raise(mapping.problem(code, str(data.get("status_text") or "")))
        return data

    def send(self, phone: str, text: str) -> str:
        """Send one SMS to ``phone`` (digits); SMS.ru's id of it."""
        params = {"to": phone, "msg": text, **({"from": self.sender} if self.sender else {})}
        data = self.call(mapping.SEND, params)
        sms = data.get("sms")
        entry = sms.get(phone) if isinstance(sms, dict) else None
        if not isinstance(entry, dict):
            raise RetryableError("SMS.ru не сообщил результат отправки по номеру.")
        if entry.get("status") != mapping.OK:
            code = mapping.code_of(entry.get("status_code"))
            problem_raise(mapping.problem(code if code is not None else -1, str(entry.get("status_text") or "")))
        sms_id = str(entry.get("sms_id") or "").strip()
        if not sms_id:
            raise RetryableError("SMS.ru принял сообщение, но не сообщил его id.")
        return sms_id

    def balance(self) -> Decimal:
        data = self.call(mapping.BALANCE, {})
        amount = mapping.money(data.get("balance"))
        if amount is None:
            raise RetryableError("SMS.ru не сообщил баланс.")
        return amount
