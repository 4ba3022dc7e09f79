"""Bitrix24 REST client: incoming-webhook URL or OAuth app (refresh on expired_token under a
per-connection lock); a leaky-bucket-safe limiter shared by all workers (2 requests/s, the
drain rate); QUERY_LIMIT_EXCEEDED waited out, OPERATION_TIME_LIMIT handed to the outbox."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from hub.locks import named_lock
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError

OAUTH_SERVER = "https://oauth.bitrix.info"
MAX_BATCH = 50


def to_query(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested params → ``fields[PHONE][0][VALUE]=…`` pairs (batch commands are query strings)."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += to_query(value, name)
        elif isinstance(value, list):
            pairs += to_query({str(n): v for n, v in enumerate(value)}, name)
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def command(method: str, params: dict[str, Any]) -> str:
    return f"{method}?{urlencode(to_query(params))}"


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"bitrix24:{connection.pk}", (connection.settings or {}).get("rate_limit", "2/second"),
                       slack=0.1, pace=True)


class Bitrix24Client(HttpClient):
    system = "bitrix24"
    max_inline_retries = 5

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.connection = connection

    # ------------------------------------------------------------------ auth
    def _url(self, method: str) -> tuple[str, dict[str, str]]:
        creds = self.connection.credentials
        if creds.get("webhook_url"):
            return f"{creds['webhook_url'].rstrip('/')}/{method}.json", {}
        return f"{self.base_url}/rest/{method}.json", {"auth": self._token()}

    def _token(self, force: bool = False) -> str:
        creds = self.connection.credentials
        if not force and creds.get("access_token"):
            return creds["access_token"]
        used = creds.get("access_token")
        with named_lock(f"bitrix24-token:{self.connection.pk}", timeout=60, wait=60):
            fresh = Connection.objects.get(pk=self.connection.pk)
            creds = fresh.credentials
            if creds.get("access_token") and creds.get("access_token") != used:
                self.connection.credentials = creds  # another worker already refreshed
                return creds["access_token"]
            if not creds.get("refresh_token"):
                raise AuthError("Bitrix24: no webhook URL and no OAuth refresh token for this connection")
            server = creds.get("oauth_server") or OAUTH_SERVER
            response = self._send("GET", f"{server.rstrip('/')}/oauth/token/", timeout=self.timeout, params={
                "grant_type": "refresh_token", "client_id": creds.get("client_id"),
                "client_secret": creds.get("client_secret"), "refresh_token": creds["refresh_token"]})
            if response.status_code != 200:
                raise AuthError(f"Bitrix24 refused the token refresh: {self.error_message(response)}")
            token = response.json()
            creds = {**creds, "access_token": token["access_token"], "refresh_token": token["refresh_token"],
                     "expires_at": time.time() + float(token.get("expires_in") or 3600)}
            fresh.credentials = creds
            fresh.save(update_fields=["credentials", "updated_at"])
            self.connection.credentials = creds
            return creds["access_token"]

    # ------------------------------------------------------------------ errors
    @staticmethod
    def _error(response: requests.Response) -> tuple[str, str]:
        try:
            body = response.json()
        except ValueError:
            return "", response.text[:200]
        if isinstance(body, dict):
            return str(body.get("error") or ""), str(body.get("error_description") or "")
        return "", ""

    def retry_after_for(self, response: requests.Response) -> float | None:
        code, _ = self._error(response)
        if code == "QUERY_LIMIT_EXCEEDED":
            return 1.0  # the bucket drains 2/s: a second frees two slots
        if code == "OPERATION_TIME_LIMIT":
            return 600.0  # the method is blocked for 10 minutes
        return None

    def error_message(self, response: requests.Response) -> str:
        code, description = self._error(response)
        return f"Bitrix24 {response.status_code}: {code} {description}".strip()

    # ------------------------------------------------------------------ calls
    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        for attempt in range(2):
            url, auth = self._url(method)
            response = self.request("POST", url, params=auth, json=params or {}, expected=(401,))
            if response.status_code != 401:
                return self.decode_json(response)
            code, _ = self._error(response)
            if code != "expired_token" or attempt:
                raise AuthError(self.error_message(response))
            self._token(force=True)
        raise AuthError("Bitrix24: authorisation failed")  # pragma: no cover

    def batch(self, commands: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """One request for ≤ 50 commands; per-command errors come back, never silently dropped."""
        if len(commands) > MAX_BATCH:
            raise FatalError(f"a batch takes at most {MAX_BATCH} commands")
        answer = self.call("batch", {"halt": 0, "cmd": commands})
        result = (answer or {}).get("result") or {}
        return result.get("result") or {}, result.get("result_error") or {}
