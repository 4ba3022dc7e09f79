"""HTTP client of SMSC.ru: login and password go in a POST body (never in the URL, so neither
they nor the phone land in access logs), the text is declared UTF-8 (SMSC's default is
windows-1251), answers are JSON (``fmt=3``), and SMSC's refusals — HTTP 200 with
``error_code`` — become the engine's typed errors or ``SendRefused``, per ``mapping.ERRORS``.
One rate limiter per account, shared by all workers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.channels.problems import problem_raise
from connectors.smsc import mapping
from hub.logging import mask_text
from hub.models import Connection
from hub.sync.errors import AuthError, RetryableError


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    rate = (connection.settings or {}).get("rate_limit", mapping.DEFAULT_RATE_LIMIT)
    return RateLimiter(f"smsc:{connection.pk}", rate)


class SmscClient(HttpClient):
    system = "smsc"

    def __init__(self, connection: Connection) -> None:
        settings = connection.settings or {}
        super().__init__(connection.base_url or mapping.DEFAULT_BASE_URL, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        credentials = connection.credentials or {}
        self.login = str(credentials.get("login") or "")
        self.password = str(credentials.get("password") or "")
        self.sender = str(settings.get("sender") or "")

    def error_message(self, response: requests.Response) -> str:
        return f"SMSC HTTP {response.status_code}: {mask_text(response.text[:200])}"

    def retry_after_for(self, response: requests.Response) -> float | None:
        """A 429 without Retry-After still means "slow down": a short pause, not an outage."""
        return mapping.RATE_LIMIT_PAUSE if response.status_code == 429 else None

    def call(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One API call; its answer, or SMSC's refusal raised."""
        if not self.login or not self.password:
            raise AuthError("В подключении SMSC не указаны логин и пароль.")
        data = self.request_json("POST", path, data={"login": self.login, "psw": self.password, "fmt": mapping.JSON,
                                                     "charset": mapping.CHARSET, **params})
        if not isinstance(data, dict):
            raise RetryableError(f"SMSC ответил на {path} в неожиданном виде.")
        if "error_code" in data or "error" in data:
            code = mapping.code_of(data.get("error_code"))
            problem_raise(mapping.problem(code if code is not None else -1, str(data.get("error") or "")))
        return data

    def send(self, phone: str, text: str, message_id: str) -> str:
        """Send one SMS to ``phone`` (digits) under our ``message_id``; SMSC's id of it."""
        params = {"phones": phone, "mes": text, "id": message_id,
                  **({"sender": self.sender} if self.sender else {})}
        data = self.call(mapping.SEND, params)
        if mapping.code_of(data.get("cnt")) in (None, 0):
            raise RetryableError("SMSC не подтвердил отправку (нет числа отправленных SMS).")
        return str(data.get("id") or message_id)

    def balance(self) -> Decimal:
        amount = mapping.money(self.call(mapping.BALANCE, {}).get("balance"))
        if amount is None:
            raise RetryableError("SMSC не сообщил баланс.")
        return amount
