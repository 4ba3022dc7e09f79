"""Emulator of the Wazzup API v3 (WhatsApp channel), written from the public docs
(https://wazzup24.com/help/api-en/) and contracts/channels.md, not from our client.

API: every call carries ``Authorization: Bearer <apiKey>``; a missing or wrong key answers 401
with an empty body. Errors are 4xx ``{"error": CODE, "description", "data"?}``.

- ``POST /v3/message {channelId, chatType, chatId, text | contentUri, crmMessageId?, …}`` →
  201 ``{"messageId", "chatId"}`` (the status code is assumed). Checks, in order: a known
  channelId (else 400 CHANNEL_NOT_FOUND), a known chatType (INVALID_MESSAGE_DATA), a chatType
  of the channel's messenger (WRONG_TRANSPORT), an active channel (CHANNEL_NO_MONEY,
  CHANNEL_BLOCKED, else MESSAGE_CHANNEL_UNAVAILABLE — assumed), a WhatsApp chatId of digits only
  (10–15 here, assumed), exactly one of text and contentUri, text up to 10 000 characters
  (INVALID_MESSAGE_DATA with ``data.fields``), and a crmMessageId not used before (400
  ``repeatedCrmMessageId``, as documented).
- ``GET /v3/channels`` → ``[{"channelId", "transport": "whatsapp", "plainId", "state"}]``
  (knob ``channel_state``).
- ``PATCH /v3/webhooks {"webhooksUri", "subscriptions"}``: a test POST ``{"test": true}`` goes to
  the URI first; anything but 200 refuses the change (400). ``GET /v3/webhooks`` reads them.
- rate limit: the real one is 500 requests per 5 s; the base limiter counts per second, so the
  default here is 100/s.

Numbers without WhatsApp (knob ``no_whatsapp``: E.164 numbers): the message is accepted and
its status turns to ``error`` with ``{"error": "BAD_CONTACT"}`` (assumed from the status error
codes of the webhook docs).

Webhooks go to ``webhook_url`` with ``Authorization: Bearer <crm_key>`` when a CRM key is set.
Statuses are not posted on their own; tests and the sandbox make them happen:

- ``POST /_emulator/deliver {"id", "status": "sent"|"delivered"|"read"|"failed", "error"?}``
  posts ``{"statuses": [{messageId, timestamp, status, error?}]}`` ("failed" is Wazzup's
  ``error``) and answers ``{"status": <hub HTTP status>, "body": <text>}``;
- ``POST /_emulator/incoming {"from": "+7…", "text", "name"?}`` posts ``{"messages": [...]}``
  with one incoming text (``isEcho`` false, ``status`` inbound), plus ``"id"`` in the answer.

Knobs on ``POST /_emulator/faults``: ``webhook_url``, ``crm_key``, ``api_key``,
``channel_state``, ``no_whatsapp`` (list). Run: ``python -m connectors.wazzup.emulator --port N``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import secrets
import uuid
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

CHAT_TYPES = ("whatsapp", "whatsgroup", "viber", "instagram", "telegram", "telegroup", "vk", "avito", "max",
              "maxgroup")
TRANSPORT_CHATS = {"whatsapp": ("whatsapp", "whatsgroup")}
STATES = ("active", "init", "disabled", "phoneUnavailable", "qr", "openElsewhere", "notEnoughMoney", "foreignphone",
          "unauthorized", "waitForPassword")
STATE_ERRORS = {"notEnoughMoney": "CHANNEL_NO_MONEY", "disabled": "CHANNEL_BLOCKED"}
DELIVER_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "error"}
TEXT_MAX = 10_000
WHATSAPP_CHAT = re.compile(r"^\d{10,15}$")


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _error(code: str, description: str, status: int = 400, fields: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"error": code, "description": description}
    if fields:
        body["data"] = {"fields": fields}
    return json_response(body, status)


class WazzupEmulator(Emulator):
    name = "wazzup"
    default_rate_limit = 100  # 500 per 5 s, counted per second here

    def __init__(self, *, rate_limit: float | None = None, api_key: str | None = None,
                 channel_id: str | None = None, crm_key: str | None = None, webhook_url: str = "",
                 plain_id: str = "79865784457", no_whatsapp: tuple[str, ...] = ()) -> None:
        self.api_key = api_key or secrets.token_hex(16)
        self.channel_id = channel_id or str(uuid.uuid4())
        self.crm_key = secrets.token_hex(16) if crm_key is None else crm_key
        self.webhook_url = webhook_url
        self.plain_id = plain_id
        self.channel_state = "active"
        self.no_whatsapp = {_digits(n) for n in no_whatsapp}
        self.subscriptions: dict[str, Any] = {}
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [
            Rule("/v3/message", endpoint="send_message", methods=["POST"]),
            Rule("/v3/channels", endpoint="list_channels", methods=["GET"]),
            Rule("/v3/webhooks", endpoint="webhooks_settings", methods=["GET", "PATCH"]),
            Rule("/_emulator/deliver", endpoint="emu_deliver", methods=["POST"]),
            Rule("/_emulator/incoming", endpoint="emu_incoming", methods=["POST"]),
        ]

    def reset(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.incoming: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []

    def credentials(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "channel_id": self.channel_id, "crm_key": self.crm_key,
                "webhook_url": self.webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"channels": self._channels(), "no_whatsapp": sorted(self.no_whatsapp),
                "subscriptions": self.subscriptions, "messages": self.messages, "incoming": self.incoming,
                "webhooks": self.webhooks}

    def control(self, spec: dict[str, Any]) -> None:
        """Every value is checked before any is set: a bad knob changes nothing."""
        state = spec.get("channel_state", self.channel_state)
        if state not in STATES:
            raise ValueError(f"channel_state must be one of {STATES}")
        numbers = spec.get("no_whatsapp")
        if numbers is not None and not isinstance(numbers, list):
            raise ValueError("no_whatsapp must be a list of phone numbers")
        self.channel_state = state
        if numbers is not None:
            self.no_whatsapp = {_digits(n) for n in numbers}
        for knob in ("webhook_url", "crm_key", "api_key"):
            if knob in spec:
                setattr(self, knob, str(spec[knob] or ""))

    # the API ------------------------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token.strip(), self.api_key)

    def _channels(self) -> list[dict[str, Any]]:
        return [{"channelId": self.channel_id, "transport": "whatsapp", "plainId": self.plain_id,
                 "state": self.channel_state}]

    def list_channels(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response("", status=401)
        return json_response(self._channels())

    def send_message(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response("", status=401)
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return _error("INVALID_MESSAGE_DATA", "Request body must be a JSON object")
        if body.get("channelId") != self.channel_id:
            return _error("CHANNEL_NOT_FOUND", "Channel not found")
        chat_type = body.get("chatType")
        if chat_type not in CHAT_TYPES:
            return _error("INVALID_MESSAGE_DATA", "Invalid chatType", fields=["chatType"])
        if chat_type not in TRANSPORT_CHATS["whatsapp"]:
            return _error("WRONG_TRANSPORT", "The chatType does not match the channel transport")
        if self.channel_state != "active":
            code = STATE_ERRORS.get(self.channel_state, "MESSAGE_CHANNEL_UNAVAILABLE")
            return _error(code, f"Channel is {self.channel_state}")
        chat = body.get("chatId")
        if chat_type == "whatsapp" and (not isinstance(chat, str) or not WHATSAPP_CHAT.match(chat)):
            return _error("INVALID_MESSAGE_DATA", "Invalid chatId", fields=["chatId"])
        text, content = body.get("text"), body.get("contentUri")
        if (text is None) == (content is None) or (text is not None and (not isinstance(text, str) or not text)):
            return _error("INVALID_MESSAGE_DATA", "Exactly one of text and contentUri is required", fields=["text"])
        if isinstance(text, str) and len(text) > TEXT_MAX:
            return _error("INVALID_MESSAGE_DATA", f"Text is longer than {TEXT_MAX} characters", fields=["text"])
        crm_id = body.get("crmMessageId")
        with self.lock:
            if crm_id is not None and any(m["crmMessageId"] == crm_id for m in self.messages):
                return _error("repeatedCrmMessageId", "You have already sent message with the same crmMessageId")
            message_id = str(uuid.uuid4())
            self.messages.append({"id": message_id, "channelId": self.channel_id, "chatType": chat_type,
                                  "chatId": chat, "text": text, "contentUri": content, "crmMessageId": crm_id,
                                  "status": "sent", "dateTime": _now()})
        return json_response({"messageId": message_id, "chatId": chat}, 201)

    def webhooks_settings(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response("", status=401)
        if request.method == "GET":
            return json_response({"webhooksUri": self.webhook_url, "subscriptions": self.subscriptions})
        body = request.get_json(force=True, silent=True)
        uri = body.get("webhooksUri") if isinstance(body, dict) else None
        if not isinstance(uri, str) or not uri or len(uri) > 200:
            return _error("uriNotValid", "webhooksUri must be a URL of at most 200 characters")
        answer = self._post_to(uri, {"test": True})
        if answer.get("status") != 200:
            return _error("testPostNotPassed", "Webhooks request not valid. Response status must be 200")
        with self.lock:
            self.webhook_url = uri
            subscriptions = body.get("subscriptions")
            self.subscriptions = subscriptions if isinstance(subscriptions, dict) else {}
        return json_response({"ok": True})

    # webhooks -------------------------------------------------------------------------------------------
    def _post_to(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.crm_key:
            headers["Authorization"] = f"Bearer {self.crm_key}"
        status, text = self.post_now(url, json.dumps(body, ensure_ascii=False).encode(), headers)
        record: dict[str, Any] = ({"status": status, "body": text} if status is not None else
                                  {"status": None, "body": "", "error": text})
        with self.lock:
            self.webhooks.append({"url": url, "payload": body, "status": record["status"]})
        return record

    def _post(self, body: dict[str, Any]) -> Response:
        if not self.webhook_url:
            return json_response({"error": "webhook_url is not set (POST /_emulator/faults)"}, 409)
        record = self._post_to(self.webhook_url, body)
        return json_response(record, 200 if record["status"] is not None else 502)

    def emu_deliver(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or spec.get("status", "delivered") not in DELIVER_STATUSES:
            return json_response({"error": f"expected {{'id', 'status': one of {sorted(DELIVER_STATUSES)}}}"}, 400)
        with self.lock:
            message = next((m for m in self.messages if m["id"] == spec.get("id")), None)
            if message is None:
                return json_response({"error": f"no message {spec.get('id')!r}"}, 404)
            status = DELIVER_STATUSES[spec.get("status", "delivered")]
            item: dict[str, Any] = {"messageId": message["id"], "timestamp": _now(), "status": status}
            if _digits(message["chatId"]) in self.no_whatsapp:
                item["status"] = status = "error"
                item["error"] = {"error": "BAD_CONTACT", "description": "Account with this chatId does not exist"}
            elif status == "error":
                item["error"] = {"error": str(spec.get("error") or "UNKNOWN"),
                                 "description": "The message was not delivered"}
            message["status"] = status
        return self._post({"statuses": [item]})

    def emu_incoming(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not _digits(spec.get("from")) or not isinstance(spec.get("text"), str):
            return json_response({"error": "expected {'from': '+7…', 'text': '…'}"}, 400)
        message_id = str(uuid.uuid4())
        item = {"messageId": message_id, "channelId": self.channel_id, "chatType": "whatsapp",
                "chatId": _digits(spec["from"]), "dateTime": _now(), "type": "text", "isEcho": False,
                "text": spec["text"], "status": "inbound",
                "contact": {"name": str(spec.get("name") or "Клиент"), "avatarUri": ""}}
        with self.lock:
            self.incoming.append({"id": message_id, "chatId": item["chatId"], "text": spec["text"]})
        answer = self._post({"messages": [item]})
        if answer.status_code == 200:
            return json_response({**json.loads(answer.get_data(as_text=True)), "id": message_id})
        return answer


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub-webhook-url", default="")
        parser.add_argument("--api-key", default=None)
        parser.add_argument("--channel-id", default=None)
        parser.add_argument("--crm-key", default=None)

    run_cli(lambda a: WazzupEmulator(rate_limit=a.rate_limit, api_key=a.api_key, channel_id=a.channel_id,
                                     crm_key=a.crm_key, webhook_url=a.hub_webhook_url),
            "Wazzup API v3 (WhatsApp) emulator", add_arguments)


if __name__ == "__main__":
    main()
