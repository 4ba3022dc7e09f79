"""HTTP client of SamoSale (assumed API, see API.md): bearer key, its error body turned into
clear ``ProgramError`` messages, the shared rate limit."""

from __future__ import annotations

from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.samosale import mapping
from hub.models import Connection
from loyalty.ports import ClientNotFound, ProgramError


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"samosale:{connection.pk}", (connection.settings or {}).get("rate_limit", "10/second"))


class SamosaleClient(HttpClient):
    system = "samosale"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.api_key = connection.credentials.get("api_key", "")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @staticmethod
    def _error(response: requests.Response) -> tuple[str, str]:
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        if not isinstance(error, dict):
            error = {"message": str(error)}
        return str(error.get("code") or ""), str(error.get("message") or response.text[:200])

    def error_message(self, response: requests.Response) -> str:
        code, message = self._error(response)
        return f"SamoSale HTTP {response.status_code} {code}: {message}"

    def classify(self, response: requests.Response) -> None:
        """The program's refusals (4xx other than auth) are answers for people, not outages."""
        if response.status_code in (400, 404, 409, 422):
            code, message = self._error(response)
            error = ClientNotFound if code == "client_not_found" else ProgramError
            human = mapping.ERRORS.get(code, "SamoSale отклонил запрос.")
            raise error(f"{human} ({message})" if message else human, code=code)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = self.request_json(method, path, **kwargs)
        if not isinstance(data, dict):
            raise ProgramError(f"SamoSale answered an unexpected shape on {path}.", retryable=True)
        return data
