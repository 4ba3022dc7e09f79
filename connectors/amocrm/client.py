"""amoCRM API v4 client: OAuth with single-use refresh tokens (refreshed under a
per-connection lock, re-read under it, stored before it is released) or a long-lived
token; 7 requests/s shared by all workers; problem+json errors made readable; the 403
account block treated as "stop and alert"."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import requests

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from hub.locks import named_lock
from hub.models import Connection
from hub.sync.errors import AuthError, RateLimited

EARLY = 300  # renew this long before expiry
BLOCK_PAUSE = 15 * 60
MAX_PAGE = 250  # after amoCRM blocks the account, stay away this long


class AccountBlocked(RateLimited):
    """amoCRM answered its nginx 403 page: too many 429s. Everything waits (no row uses up
    its attempts); the connection shows the error so an operator looks."""


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"amocrm:{connection.pk}", (connection.settings or {}).get("rate_limit", "7/second"),
                       slack=0.1, pace=True)


class AmoClient(HttpClient):
    system = "amocrm"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.connection = connection

    # ------------------------------------------------------------------ auth
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token()}"}

    def access_token(self, force: bool = False) -> str:
        creds = self.connection.credentials
        if creds.get("long_lived_token"):
            return creds["long_lived_token"]
        if not force and self._fresh(creds):
            return creds["access_token"]
        used = creds.get("access_token")
        with named_lock(f"amocrm-token:{self.connection.pk}", timeout=60, wait=60):
            fresh = Connection.objects.get(pk=self.connection.pk)
            creds = fresh.credentials
            # Another worker may have refreshed while we waited: its pair is the valid one now.
            if self._fresh(creds) and not (force and creds.get("access_token") == used):
                self.connection.credentials = creds
                return creds["access_token"]
            token = self._grant(creds)
            creds = {k: v for k, v in creds.items() if k != "authorization_code"}
            creds.update(access_token=token["access_token"], refresh_token=token["refresh_token"],
                         expires_at=time.time() + float(token.get("expires_in") or 86400))
            fresh.credentials = creds
            fresh.save(update_fields=["credentials", "updated_at"])  # stored before the lock is released
            self.connection.credentials = creds
            return creds["access_token"]

    @staticmethod
    def _fresh(creds: dict[str, Any]) -> bool:
        return bool(creds.get("access_token")) and creds.get("expires_at", 0) > time.time() + EARLY

    def _grant(self, creds: dict[str, Any]) -> dict[str, Any]:
        body = {"client_id": creds.get("client_id"), "client_secret": creds.get("client_secret"),
                "redirect_uri": creds.get("redirect_uri")}
        if creds.get("refresh_token"):
            body.update(grant_type="refresh_token", refresh_token=creds["refresh_token"])
        elif creds.get("authorization_code"):
            body.update(grant_type="authorization_code", code=creds["authorization_code"])
        else:
            raise AuthError("amoCRM: no token, refresh token or authorization code stored for this connection")
        response = self._send("POST", f"{self.base_url}/oauth2/access_token", json=body, timeout=self.timeout)
        if response.status_code != 200:
            raise AuthError(f"amoCRM refused the token request: {self.error_message(response)}")
        return response.json()

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return super().request(method, path, **kwargs)
        except AuthError:
            if self.connection.credentials.get("long_lived_token"):
                raise
            self.access_token(force=True)
            return super().request(method, path, **kwargs)

    # ------------------------------------------------------------------ errors
    def retry_after_for(self, response: requests.Response) -> float | None:
        return 1.0 if response.status_code == 429 else None  # amoCRM counts per second

    def classify(self, response: requests.Response) -> None:
        if response.status_code == 403 and "json" not in response.headers.get("Content-Type", ""):
            raise AccountBlocked("amoCRM blocked the account for too many requests; syncing paused, "
                                 "check the integration's request rate", retry_after=BLOCK_PAUSE)

    def error_message(self, response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if not isinstance(body, dict):
            return super().error_message(response)
        parts = [str(body.get("title") or ""), str(body.get("detail") or "")]
        for item in body.get("validation-errors") or []:
            for error in item.get("errors", []) if isinstance(item, dict) else []:
                parts.append(f"[{item.get('request_id')}] {error.get('path')}: {error.get('detail')}")
        return f"amoCRM {response.status_code}: " + "; ".join(p for p in parts if p)

    # ------------------------------------------------------------------ calls
    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        return None if response.status_code == 204 else self.decode_json(response)

    def pages(self, path: str, entity: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list (``page``/``limit`` until no ``_links.next``; 204 = empty)."""
        page, limit = 1, params.pop("limit", MAX_PAGE)
        while True:
            data = self.get(path, page=page, limit=limit, **params) or {}
            yield from data.get("_embedded", {}).get(entity, [])
            if not data.get("_links", {}).get("next"):
                return
            page += 1

    def send(self, method: str, path: str, body: Any) -> Any:
        return self.decode_json(self.request(method, path, json=body))
