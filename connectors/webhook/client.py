"""HTTP client of a system speaking the generic protocol."""

from __future__ import annotations

import json
from typing import Any

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import hmac_sha256
from hub.models import Connection
from hub.sync.errors import FatalError


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"webhook:{connection.pk}", (connection.settings or {}).get("rate_limit", "10/second"))


class WebhookClient(HttpClient):
    system = "webhook"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.token = connection.credentials.get("token", "")
        self.secret = connection.credentials.get("secret", "")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def error_message(self, response: Any) -> str:
        try:
            reason = response.json().get("error")
        except ValueError:
            reason = None
        return f"HTTP {response.status_code}: {reason or response.text[:300]}"

    def ping(self) -> None:
        self.request("GET", "/ping")

    def send_events(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = json.dumps({"events": events}, ensure_ascii=False, default=str).encode()
        data = self.request_json("POST", "/events", data=body, headers={
            "Content-Type": "application/json", "X-Hub-Signature": hmac_sha256(self.secret, body)})
        return data.get("results", []) if isinstance(data, dict) else []

    def list_contacts(self, cursor: str, limit: int) -> tuple[list[dict[str, Any]], str]:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        data = self.request_json("GET", "/contacts", params=params)
        if not isinstance(data, dict) or not isinstance(data.get("items", []), list):
            raise FatalError("/contacts answered an unexpected shape")
        return data.get("items", []), str(data.get("next_cursor") or cursor)
