"""Lime HTTP client: OAuth2 password grant with refresh, tokens cached (encrypted) on the
connection and renewed under a per-connection lock so workers do not stampede."""

from __future__ import annotations

import time
from typing import Any

from connectors.base.http import HttpClient
from connectors.base.ratelimit import RateLimiter
from hub.locks import named_lock
from hub.models import Connection
from hub.sync.errors import AuthError, FatalError

CLIENT_ID = "Jade.Api"
EARLY = 60  # renew this many seconds before expiry


def limiter_for(connection: Connection) -> RateLimiter:
    """The account's shared limiter: what this client waits on, and what the dashboard reads."""
    return RateLimiter(f"lime:{connection.pk}", (connection.settings or {}).get("rate_limit", "20/second"))


class LimeClient(HttpClient):
    system = "lime"

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection.base_url, connection_id=connection.pk,
                         rate_limiter=limiter_for(connection))
        self.connection = connection
        self.timeout = (5.0, float(connection.settings.get("read_timeout", 30)))

    # ------------------------------------------------------------------ auth
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token()}"}

    def _access_token(self, force: bool = False) -> str:
        creds = self.connection.credentials
        if not force and self._fresh(creds):
            return creds["access_token"]
        with named_lock(f"lime-token:{self.connection.pk}", timeout=60, wait=60):
            fresh = Connection.objects.get(pk=self.connection.pk)  # another worker may have renewed it
            creds = fresh.credentials
            stale = force and creds.get("access_token") == self.connection.credentials.get("access_token")
            if not stale and self._fresh(creds):
                self.connection.credentials = creds
                return creds["access_token"]
            token = self._grant(creds)
            lifetime = float(token.get("expires_in") or 3600)
            creds = {**creds, "access_token": token["access_token"], "refresh_token": token.get("refresh_token", ""),
                     "expires_at": time.time() + lifetime, "renew_before": min(EARLY, lifetime / 2)}
            fresh.credentials = creds
            fresh.save(update_fields=["credentials", "updated_at"])
            self.connection.credentials = creds
            return creds["access_token"]

    @staticmethod
    def _fresh(creds: dict[str, Any]) -> bool:
        margin = creds.get("renew_before", EARLY)
        return bool(creds.get("access_token")) and creds.get("expires_at", 0) > time.time() + margin

    def _grant(self, creds: dict[str, Any]) -> dict[str, Any]:
        if creds.get("refresh_token"):
            response = self._token_request({"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]})
            if response.status_code == 200:
                return response.json()
        if not creds.get("username") or not creds.get("password"):
            raise AuthError("Lime: no username/password stored for this connection")
        response = self._token_request({"grant_type": "password", "username": creds["username"],
                                        "password": creds["password"]})
        if response.status_code != 200:
            raise AuthError(f"Lime rejected the login: {self.error_message(response)}")
        return response.json()

    def _token_request(self, form: dict[str, str]) -> Any:
        form = {"client_id": self.connection.credentials.get("client_id") or CLIENT_ID, **form}
        return self._send("POST", f"{self.base_url}/connect/token", data=form, timeout=self.timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One re-login on 401: tokens expire or are revoked in the middle of a backfill."""
        try:
            return super().request(method, path, **kwargs)
        except AuthError:
            self._access_token(force=True)
            return super().request(method, path, **kwargs)

    def error_message(self, response: Any) -> str:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and (body.get("error") or body.get("error_description")):
            return f"HTTP {response.status_code}: {body.get('error_description') or body.get('error')}"
        return super().error_message(response)

    # ------------------------------------------------------------------ calls
    def select(self, entity: str, filt: dict[str, Any], skip: int, take: int) -> list[dict[str, Any]]:
        data = self.request_json("POST", f"/api/{entity}/Select",
                                 json={"filter": filt, "page": {"skip": skip, "take": take}})
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise FatalError(f"Lime {entity}/Select answered an unexpected shape")
        return data["data"]

    def goods_tree(self) -> dict[str, Any]:
        settings = self.connection.settings
        data = self.request_json("GET", "/api/CashdeskServer/GetAllGoodTypesAndCategoriesForInstallation",
                                 params={"cashdeskId": settings.get("cashdesk_id", 1),
                                         "installationId": settings.get("installation_id", 1)})
        if not isinstance(data, dict):
            raise FatalError("Lime goods tree answered an unexpected shape")
        return data

    def call(self, path: str, body: dict[str, Any]) -> Any:
        return self.request_json("POST", path, json=body)
