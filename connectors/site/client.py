"""HTTP client of the organiser's site endpoint (PROTOCOL.md): every request signed with the
connection's shared secret, answers turned into the engine's typed errors."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.site import mapping
from hub.models import Connection
from hub.sync.errors import FatalError


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"site:{connection.pk}", (connection.settings or {}).get("rate_limit", "10/second"))


class SiteClient(HttpClient):
    system = "site"
    timeout = (5.0, 60.0)  # a template may carry a picture of several megabytes

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.secret = str((connection.credentials or {}).get("secret") or "")

    # answers ---------------------------------------------------------------------------------
    def error_message(self, response: requests.Response) -> str:
        """The site's own ``error`` text when it sent one (never our request body)."""
        return f"site: HTTP {response.status_code}: {_reason(response)}"

    def classify(self, response: requests.Response) -> None:
        """A refused signature will not fix itself by retrying: the secret (or a clock) is wrong."""
        if response.status_code == 401:
            raise FatalError(f"site refused the signature (check the shared secret): {_reason(response)}")

    # calls -----------------------------------------------------------------------------------
    def ping(self) -> dict[str, Any]:
        answer = self._signed("GET", "/ping")
        if not isinstance(answer, dict) or not answer.get("ok"):
            raise FatalError(f"site: /ping answered an unexpected body: {str(answer)[:200]!r}")
        return answer

    def put_template(self, xml_id: str, body: dict[str, Any]) -> tuple[str, bool]:
        """Create or update the template whose XML_ID is ``xml_id``: (element id, created)."""
        return self._put(f"/templates/{quote(xml_id, safe='')}", body)

    def put_event(self, xml_id: str, body: dict[str, Any]) -> tuple[str, bool]:
        """Create or update the calendar event whose XML_ID is ``xml_id``: (element id, created)."""
        return self._put(f"/events/{quote(xml_id, safe='')}", body)

    def _put(self, path: str, body: dict[str, Any]) -> tuple[str, bool]:
        answer = self._signed("PUT", path, body)
        element = answer.get("id") if isinstance(answer, dict) else None
        if isinstance(element, bool) or not isinstance(element, str | int) or not str(element).strip():
            raise FatalError(f"site: {path} answered without an element id: {str(answer)[:200]!r}")
        return str(element).strip(), bool(answer.get("created"))

    def _signed(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Signs with the current time; the signature covers the exact bytes sent."""
        if not self.secret:
            raise FatalError("site: the connection has no shared secret (credentials['secret'])")
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {mapping.TIMESTAMP_HEADER: str(timestamp),
                   mapping.SIGNATURE_HEADER: mapping.sign(self.secret, timestamp, raw)}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        return self.request_json(method, path, data=raw, headers=headers)


def _reason(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    reason = data.get("error") if isinstance(data, dict) else None
    return str(reason)[:300] if reason else (response.text[:300] or "no details")
