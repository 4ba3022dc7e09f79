"""HTTP client of the UDS partner API v2: Basic ``companyId:apiKey``, a fresh
``X-Origin-Request-Id`` and ``X-Timestamp`` on every request, UDS's business errors turned
into clear ``ProgramError`` messages (auth, 429 and 5xx are the base client's), the shared
rate limit."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.uds import mapping
from hub.models import Connection
from loyalty.ports import ClientNotFound, ProgramError

OPERATION_PATH = re.compile(r"/operations/\d+(/refund)?/?$")
UNKNOWN_METHOD = "page you requested is not found"


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"uds:{connection.pk}", (connection.settings or {}).get("rate_limit", "10/second"))


class UdsClient(HttpClient):
    system = "uds"

    def __init__(self, connection: Connection) -> None:
        # UDS publishes no rate limit; 10/second keeps a busy night's reconciliation polite.
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        company_id = str(connection.credentials.get("company_id", ""))
        api_key = str(connection.credentials.get("api_key", ""))
        self._basic = base64.b64encode(f"{company_id}:{api_key}".encode()).decode()

    def auth_headers(self) -> dict[str, str]:
        """Called for every attempt: each request gets its own id and time."""
        return {"Authorization": f"Basic {self._basic}", "Accept": "application/json",
                mapping.REQUEST_ID_HEADER: str(uuid.uuid4()),
                mapping.TIMESTAMP_HEADER: dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")}

    @staticmethod
    def _error(response: requests.Response) -> tuple[str, str]:
        """(errorCode, their message with the first field error, if any)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return "", response.text[:200]
        message = str(body.get("message") or "")
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            detail = str(first.get("message") or "")
            if detail and detail not in message:
                message = f"{message}: {detail}" if message else detail
        return str(body.get("errorCode") or ""), message

    def error_message(self, response: requests.Response) -> str:
        code, message = self._error(response)
        return f"UDS HTTP {response.status_code} {code}: {message}"

    def classify(self, response: requests.Response) -> None:
        """UDS's refusals (400/404 with an ``errorCode``) are answers for people, not outages."""
        if response.status_code not in (400, 404):
            return
        code, message = self._error(response)
        if not code:
            return  # not UDS speaking (a proxy, a wrong base URL): the base client's error
        path = urlsplit(response.url or "").path
        if code == "notFound":
            if UNKNOWN_METHOD in message.lower():
                return  # a method this base URL does not have: a setup error, not a refusal
            if OPERATION_PATH.search(path):
                raise ProgramError(self._human("operationNotFound", message), code="operationNotFound")
            raise ClientNotFound(self._human(code, message), code=code)
        raise ProgramError(self._human(code, message), code=code)

    @staticmethod
    def _human(code: str, message: str) -> str:
        human = mapping.ERRORS.get(code, "UDS отклонил запрос.")
        return f"{human} ({message})" if message else human

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = self.request_json(method, path, **kwargs)
        if not isinstance(data, dict):
            raise ProgramError(f"UDS answered an unexpected shape on {path}.", retryable=True)
        return data
