"""Emulator of a system speaking the generic HTTP protocol (see PROTOCOL.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

MAX_BATCH = 100


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSystemEmulator(Emulator):
    name = "generic-http"

    def __init__(self, *, rate_limit: float | None = None, hub_webhook_url: str = "",
                 token: str | None = None, secret: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(16)
        self.secret = secret or secrets.token_urlsafe(16)
        self.hub_webhook_url = hub_webhook_url
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [
            Rule("/ping", endpoint="ping", methods=["GET"]),
            Rule("/events", endpoint="events", methods=["POST"]),
            Rule("/contacts", endpoint="list_contacts", methods=["GET"]),
            Rule("/_emulator/emit", endpoint="emit", methods=["POST"]),
        ]

    def reset(self) -> None:
        self.received: dict[str, dict[str, Any]] = {}  # event id → result
        self.deliveries = 0  # every accepted event, repeats included
        self.contacts: dict[str, dict[str, Any]] = {}  # their id → contact
        self.by_hub_id: dict[str, str] = {}
        self.sequence = 0

    def credentials(self) -> dict[str, Any]:
        return {"token": self.token, "secret": self.secret, "webhook_url": self.hub_webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"events": list(self.received.values()), "deliveries": self.deliveries,
                "contacts": sorted(self.contacts.values(), key=lambda c: c["seq"])}

    # the protocol -----------------------------------------------------------------
    def _authorised(self, request: Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    def ping(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response({"error": "invalid token"}, 401)
        return json_response({"ok": True})

    def events(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response({"error": "invalid token"}, 401)
        body = request.get_data()
        if not hmac.compare_digest(_sign(self.secret, body), request.headers.get("X-Hub-Signature", "")):
            return json_response({"error": "bad signature"}, 403)
        try:
            events = json.loads(body)["events"]
            assert isinstance(events, list)
        except (ValueError, KeyError, TypeError, AssertionError):
            return json_response({"error": "body must be {\"events\": [...]}"}, 400)
        if len(events) > MAX_BATCH:
            return json_response({"error": f"at most {MAX_BATCH} events per batch"}, 400)
        with self.lock:
            results = [self._apply(event) for event in events]
        return json_response({"results": results})

    def _apply(self, event: Any) -> dict[str, Any]:
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            return {"id": (event or {}).get("id") if isinstance(event, dict) else None,
                    "status": "error", "error": "id and type are required"}
        if event["id"] in self.received:
            return self.received[event["id"]]["result"]
        self.deliveries += 1
        data = event.get("data") or {}
        result: dict[str, Any] = {"id": event["id"], "status": "ok"}
        if event["type"] == "contact.upsert":
            hub_id = str(data.get("id", ""))
            their_id = self.by_hub_id.get(hub_id) or f"c{len(self.contacts) + 1}"
            self.by_hub_id[hub_id] = their_id
            self._store_contact(their_id, data)
            result["external_id"] = their_id
        elif event["type"] != "contact.merged":
            result = {"id": event["id"], "status": "error", "error": f"unknown type {event['type']}"}
        self.received[event["id"]] = {"event": event, "result": result}
        return result

    def _store_contact(self, their_id: str, data: dict[str, Any]) -> dict[str, Any]:
        self.sequence += 1
        contact = {**self.contacts.get(their_id, {}),
                   **{k: data.get(k) for k in ("first_name", "last_name", "phone", "email", "birth_date")
                      if k in data},
                   "id": their_id, "seq": self.sequence,
                   "updated_at": dt.datetime.now(dt.UTC).isoformat()}
        self.contacts[their_id] = contact
        return contact

    def list_contacts(self, request: Request) -> Response:
        if not self._authorised(request):
            return json_response({"error": "invalid token"}, 401)
        try:
            after = int(request.args.get("cursor") or 0)
            limit = min(int(request.args.get("limit") or 100), 500)
        except ValueError:
            return json_response({"error": "cursor and limit must be integers"}, 400)
        with self.lock:
            items = sorted((c for c in self.contacts.values() if c["seq"] > after), key=lambda c: c["seq"])[:limit]
        next_cursor = str(items[-1]["seq"]) if items else str(after)
        return json_response({"items": [{k: v for k, v in c.items() if k != "seq"} for c in items],
                              "next_cursor": next_cursor})

    # knobs ----------------------------------------------------------------------------
    def emit(self, request: Request) -> Response:
        """Create/change a contact here and tell the hub, as the real system would."""
        spec = request.get_json(force=True, silent=True) or {}
        with self.lock:
            data = dict(spec.get("data") or {})
            their_id = str(data.get("id") or f"c{len(self.contacts) + 1}")
            self._store_contact(their_id, data)
            event = {"id": spec.get("id") or secrets.token_hex(8), "type": spec.get("type", "contact.upsert"),
                     "data": {**data, "id": their_id}}
        url = spec.get("webhook_url") or self.hub_webhook_url
        if not url:
            return json_response({"error": "no hub webhook URL configured"}, 400)
        body = json.dumps(event).encode()
        answer = requests.post(url, data=body, timeout=10, headers={
            "Content-Type": "application/json", "X-Hub-Signature": _sign(self.secret, body)})
        return json_response({"event": event, "hub_status": answer.status_code, "hub_body": answer.text[:500]})


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub-webhook-url", default="")
        parser.add_argument("--token", default=None)
        parser.add_argument("--secret", default=None)

    run_cli(lambda a: WebhookSystemEmulator(rate_limit=a.rate_limit, hub_webhook_url=a.hub_webhook_url,
                                            token=a.token, secret=a.secret),
            "Generic HTTP system emulator", add_arguments)


if __name__ == "__main__":
    main()
