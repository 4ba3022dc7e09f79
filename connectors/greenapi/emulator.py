"""Emulator of Green-API (WhatsApp HTTP API), written from the public docs and
contracts/channels.md, not from our client.

API (https://green-api.com/en/docs/api/): every method is
``{apiUrl}[/v3]/waInstance{idInstance}/{method}/{apiTokenInstance}``; a wrong instance id or
token answers 401 (assumed: the docs list it among common errors without a body).

- ``POST sendMessage {"chatId": "79001234567@c.us", "message"}`` → ``{"idMessage"}``. The
  message joins the queue; delivery outcomes are webhooks. A chatId must be digits with the
  country code and ``@c.us`` (here: 10–15 digits, assumed) and ``message`` a non-empty string of
  at most 20 000 characters, else 400 ``{"code": 400, "message": "Validation failed", "description"}``
  (body assumed). With the Developer plan's chat limit set (knob ``correspondents_limit``, the
  real default is 3), a message to one chat more answers 466 with the documented body.
- ``GET getStateInstance`` → ``{"stateInstance"}`` (knob ``state_instance``: authorized,
  notAuthorized, blocked, sleepMode, starting, yellowCard).
- ``GET getSettings`` → the instance settings (``wid``, ``webhookUrl``, ``webhookUrlToken``,
  ``outgoingWebhook``, ``incomingWebhook``, … ; knob ``settings`` overrides them).
- rate limits (https://green-api.com/en/docs/api/ratelimiter): the base limiter counts
  sendMessage's 50 req/s; getStateInstance and getSettings allow 1 req/s each (only while a
  rate limit is on).

Numbers without WhatsApp (knob ``no_whatsapp``: E.164 numbers): sending succeeds, as on the
real service, and the status that follows is ``noAccount``.

Webhooks go to ``webhook_url`` with ``Authorization: Bearer <webhook_token>`` when a token is
set (the instance's "Webhook URL Token"; the header form is assumed). Statuses are not posted
on their own: tests and the sandbox make them happen:

- ``POST /_emulator/deliver {"id", "status": "sent"|"delivered"|"read"|"failed"}`` posts an
  ``outgoingMessageStatus`` notification (``noAccount`` for a number without WhatsApp,
  ``failed`` with a ``description``) and answers ``{"status": <hub HTTP status>, "body": <text>}``;
- ``POST /_emulator/incoming {"from": "+7…", "text", "name"?}`` posts an
  ``incomingMessageReceived`` text message the same way (plus ``"id"`` of the message).

Knobs on ``POST /_emulator/faults``: ``webhook_url``, ``webhook_token``, ``api_token``,
``state_instance``, ``no_whatsapp`` (list), ``correspondents_limit`` (int or null), ``settings``.
Run: ``python -m connectors.greenapi.emulator --port N [--hub-webhook-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import time
from collections import deque
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

STATES = ("authorized", "notAuthorized", "blocked", "sleepMode", "starting", "yellowCard")
DELIVER_STATUSES = ("sent", "delivered", "read", "failed")
METHOD_LIMITS = {"getstateinstance": 1, "getsettings": 1}  # requests per second, per instance
MESSAGE_MAX = 20_000
CHAT_ID = re.compile(r"^(\d{10,15})@c\.us$")


def _digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


class GreenApiEmulator(Emulator):
    name = "greenapi"
    default_rate_limit = 50  # sendMessage, per instance and second

    def __init__(self, *, rate_limit: float | None = None, id_instance: str | None = None,
                 api_token: str | None = None, webhook_token: str | None = None, webhook_url: str = "",
                 wid: str = "79990000001", no_whatsapp: tuple[str, ...] = ()) -> None:
        self.id_instance = id_instance or str(1100000000 + secrets.randbelow(99_999_999))
        self.api_token = api_token or secrets.token_hex(25)
        self.webhook_token = secrets.token_urlsafe(16) if webhook_token is None else webhook_token
        self.webhook_url = webhook_url
        self.wid = wid
        self.state_instance = "authorized"
        self.no_whatsapp = {_digits(n) for n in no_whatsapp}
        self.correspondents_limit: int | None = None
        self.settings_override: dict[str, Any] = {}
        self.method_times: dict[str, deque[float]] = {}
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [
            Rule("/waInstance<id_instance>/<method>/<token>", endpoint="api", methods=["GET", "POST"]),
            Rule("/v3/waInstance<id_instance>/<method>/<token>", endpoint="api", methods=["GET", "POST"]),
            Rule("/_emulator/deliver", endpoint="emu_deliver", methods=["POST"]),
            Rule("/_emulator/incoming", endpoint="emu_incoming", methods=["POST"]),
        ]

    def reset(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.incoming: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []

    def credentials(self) -> dict[str, Any]:
        return {"id_instance": self.id_instance, "api_token": self.api_token, "webhook_token": self.webhook_token,
                "webhook_url": self.webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"state_instance": self.state_instance, "no_whatsapp": sorted(self.no_whatsapp),
                "correspondents_limit": self.correspondents_limit, "messages": self.messages,
                "incoming": self.incoming, "webhooks": self.webhooks}

    def control(self, spec: dict[str, Any]) -> None:
        """Every value is checked before any is set: a bad knob changes nothing."""
        state = spec.get("state_instance", self.state_instance)
        if state not in STATES:
            raise ValueError(f"state_instance must be one of {STATES}")
        numbers = spec.get("no_whatsapp")
        if numbers is not None and not isinstance(numbers, list):
            raise ValueError("no_whatsapp must be a list of phone numbers")
        limit = spec.get("correspondents_limit", self.correspondents_limit)
        limit = None if limit is None else int(limit)
        settings = spec.get("settings", {})
        if not isinstance(settings, dict):
            raise ValueError("settings must be an object")
        self.state_instance = state
        self.correspondents_limit = limit
        self.settings_override.update(settings)
        if numbers is not None:
            self.no_whatsapp = {_digits(n) for n in numbers}
        for knob in ("webhook_url", "webhook_token", "api_token"):
            if knob in spec:
                setattr(self, knob, str(spec[knob] or ""))

    # the API ----------------------------------------------------------------------------------------
    def api(self, request: Request, id_instance: str, method: str, token: str) -> Response:
        if id_instance != self.id_instance or not secrets.compare_digest(token, self.api_token):
            return Response("Unauthorized", status=401, mimetype="text/plain")
        name = method.lower()
        if self._method_limited(name):
            return json_response({"message": "Too Many Requests"}, 429)
        if name == "sendmessage" and request.method == "POST":
            return self._send_message(request)
        if name == "getstateinstance" and request.method == "GET":
            return json_response({"stateInstance": self.state_instance})
        if name == "getsettings" and request.method == "GET":
            return json_response(self._settings())
        return Response("Not Found", status=404, mimetype="text/plain")

    def _method_limited(self, name: str) -> bool:
        limit = METHOD_LIMITS.get(name)
        if not limit or not self.rate_limit:
            return False
        with self.lock:
            times = self.method_times.setdefault(name, deque())
            now = time.monotonic()
            while times and now - times[0] >= 1.0:
                times.popleft()
            if len(times) >= limit:
                return True
            times.append(now)
        return False

    def _settings(self) -> dict[str, Any]:
        return {"wid": f"{self.wid}@c.us", "countryInstance": "", "typeAccount": "", "webhookUrl": self.webhook_url,
                "webhookUrlToken": self.webhook_token, "delaySendMessagesMilliseconds": 5000,
                "markIncomingMessagesReaded": "no", "markIncomingMessagesReadedOnReply": "no",
                "outgoingWebhook": "yes", "outgoingMessageWebhook": "yes", "outgoingAPIMessageWebhook": "yes",
                "incomingWebhook": "yes", "stateWebhook": "no", "keepOnlineStatus": "no",
                **self.settings_override}

    @staticmethod
    def _invalid(description: str) -> Response:
        return json_response({"code": 400, "message": "Validation failed", "description": description}, 400)

    def _send_message(self, request: Request) -> Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return self._invalid("Request body must be a JSON object")
        chat, text = body.get("chatId"), body.get("message")
        if not isinstance(chat, str) or not CHAT_ID.match(chat):
            return self._invalid(f"'chatId' with value '{chat}' fails to match the required pattern")
        if not isinstance(text, str) or not text.strip():
            return self._invalid("'message' is required")
        if len(text) > MESSAGE_MAX:
            return self._invalid(f"'message' must be at most {MESSAGE_MAX} characters")
        with self.lock:
            chats = {m["chatId"] for m in self.messages}
            if self.correspondents_limit is not None and chat not in chats and len(chats) >= self.correspondents_limit:
                return json_response({"correspondentsStatus": {
                    "method": "correspondents", "used": len(chats), "total": self.correspondents_limit,
                    "status": "QUOTE_EXCEEDED",
                    "description": "Monthly quota has been exceeded. You can only send or receive messages from "
                                   "the chats you have already used this month."}}, 466)
            message_id = secrets.token_hex(10).upper()
            self.messages.append({"id": message_id, "chatId": chat, "text": text, "status": "sent",
                                  "time": int(time.time())})
        return json_response({"idMessage": message_id})

    # webhooks -----------------------------------------------------------------------------------------
    def _instance_data(self) -> dict[str, Any]:
        number = int(self.id_instance) if self.id_instance.isdigit() else self.id_instance
        return {"idInstance": number, "wid": f"{self.wid}@c.us", "typeInstance": "whatsapp"}

    def _post(self, body: dict[str, Any]) -> Response:
        """Post one notification to the hub now; answer what the hub answered."""
        if not self.webhook_url:
            return json_response({"error": "webhook_url is not set (POST /_emulator/faults)"}, 409)
        headers = {"Content-Type": "application/json"}
        if self.webhook_token:
            headers["Authorization"] = f"Bearer {self.webhook_token}"
        status, text = self.post_now(self.webhook_url, json.dumps(body, ensure_ascii=False).encode(), headers)
        with self.lock:
            self.webhooks.append({"body": body, "status": status})
        if status is None:
            return json_response({"status": None, "body": "", "error": text}, 502)
        return json_response({"status": status, "body": text})

    def emu_deliver(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or spec.get("status", "delivered") not in DELIVER_STATUSES:
            return json_response({"error": f"expected {{'id', 'status': one of {DELIVER_STATUSES}}}"}, 400)
        with self.lock:
            message = next((m for m in self.messages if m["id"] == spec.get("id")), None)
            if message is None:
                return json_response({"error": f"no message {spec.get('id')!r}"}, 404)
            status = spec.get("status", "delivered")
            if CHAT_ID.match(message["chatId"]).group(1) in self.no_whatsapp:
                status = "noAccount"
            message["status"] = status
            body: dict[str, Any] = {"typeWebhook": "outgoingMessageStatus", "chatId": message["chatId"],
                                    "instanceData": self._instance_data(), "timestamp": int(time.time()),
                                    "idMessage": message["id"], "status": status, "sendByApi": True}
            if status == "failed":
                body["description"] = "An error occurred while sending the message to WhatsApp"
        return self._post(body)

    def emu_incoming(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not _digits(spec.get("from")) or not isinstance(spec.get("text"), str):
            return json_response({"error": "expected {'from': '+7…', 'text': '…'}"}, 400)
        chat = f"{_digits(spec['from'])}@c.us"
        name = str(spec.get("name") or "Клиент")
        message_id = secrets.token_hex(10).upper()
        body = {"typeWebhook": "incomingMessageReceived", "instanceData": self._instance_data(),
                "timestamp": int(time.time()), "idMessage": message_id,
                "senderData": {"chatId": chat, "chatName": name, "sender": chat, "senderName": name,
                               "senderContactName": ""},
                "messageData": {"typeMessage": "textMessage", "textMessageData": {"textMessage": spec["text"]}}}
        with self.lock:
            self.incoming.append({"id": message_id, "chatId": chat, "text": spec["text"]})
        answer = self._post(body)
        if answer.status_code == 200:
            return json_response({**json.loads(answer.get_data(as_text=True)), "id": message_id})
        return answer


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub-webhook-url", default="")
        parser.add_argument("--id-instance", default=None)
        parser.add_argument("--api-token", default=None)
        parser.add_argument("--webhook-token", default=None)

    run_cli(lambda a: GreenApiEmulator(rate_limit=a.rate_limit, id_instance=a.id_instance, api_token=a.api_token,
                                       webhook_token=a.webhook_token, webhook_url=a.hub_webhook_url),
            "Green-API (WhatsApp) emulator", add_arguments)


if __name__ == "__main__":
    main()
