"""Emulator of the VK API for a community bot and of VK's Callback API deliveries, written from
VK's docs, not from our client: https://dev.vk.com/en/method/messages.send ,
https://dev.vk.com/ru/api/bots/development/keyboard , https://dev.vk.com/ru/api/callback/getting-started
and VK's machine-readable schema https://github.com/VKCOM/vk-api-schema (errors.json,
messages/methods.json, groups/responses.json, callback/objects.json; v5.199).

Protocol. ``GET|POST /method/<name>`` with parameters as query or form fields, among them
``access_token`` (or ``Authorization: Bearer``) and ``v``. Every answer is HTTP 200: ``{"response":
…}`` or ``{"error": {"error_code", "error_msg", "request_params"}}``. No token / a wrong one →
5 ``User authorization failed``; no ``v`` → 8 ``Invalid request``; an unknown method → 3; more
than ``rate_limit`` calls a second (20, a community token's limit) → 6 ``Too many requests per
second``.

Methods: ``messages.send`` — ``random_id`` (int32) required; the same non-zero ``random_id``
again within ``dedup_window`` seconds (3600) answers the first message's id and sends nothing;
``peer_id`` (or ``user_id``) required; ``message`` up to 9000 characters (914 beyond);
``keyboard`` a JSON string — an inline one at most 5 buttons a row, 6 rows, 10 buttons, a normal
one 5 a row, 10 rows, 40 buttons; ``text`` buttons need a ``label`` (≤ 40 characters) and a
``payload`` that is JSON of ≤ 255 characters; otherwise 911 ``Keyboard format is invalid``; a
user who did not allow the community's messages → 901. Answers the new message's id.
``groups.getById`` — ``{"groups": [the community], "profiles": []}``.

Chosen here, not stated by VK (our design, change if VK says otherwise): the wording after the
colon in 5/8/100/911 messages, the 40/255 label and payload limits (from the older bots page),
the one-hour duplicate window, message ids counted per community, ``event_id`` as 40 hex digits.

Knobs (``POST /_emulator/faults``, besides the common ones): ``{"denied": [user_id…]}`` — these
users have not allowed messages: messages.send to them answers 901; ``{"webhook_url"}``,
``{"secret"}``, ``{"confirmation"}``, ``{"access_token"}`` (the old one stops working),
``{"dedup_window"}``.

Users (no auth, synchronous; the hub's answer returned as ``{"status", "body", "event"}``):
``POST /_emulator/incoming {"from": user_id, "text"}`` — the user writes to the community;
``POST /_emulator/press {"from": user_id, "data"}`` — the user presses a text button whose payload
is ``{"data": …}`` (its label becomes the text, as VK does; a button the community sent is found
and its exact payload used); ``POST /_emulator/confirm`` — VK checks the server: the
``confirmation`` event, ``"confirmed"`` tells whether the hub answered the confirmation string.
Events are posted as JSON with ``type``, ``group_id``, ``event_id``, ``v``, ``secret`` (when set)
and ``object`` (``message_new``: ``{message, client_info}``).

Run: ``python -m connectors.vk.emulator --port N [--access-token T] [--secret S]
[--confirmation C] [--group-id G] [--hub-webhook-url URL] [--rate-limit 20]``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections import deque
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

API_VERSION = "5.199"
TEXT_MAX, LABEL_MAX, PAYLOAD_MAX = 9000, 40, 255
INT32 = 2**31
BUTTON_TYPES = ("text", "open_link", "location", "vkpay", "open_app", "callback")
COLORS = ("primary", "secondary", "negative", "positive", "default")
CLIENT_INFO = {"button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback",
                                  "intent_subscribe", "intent_unsubscribe"],
               "keyboard": True, "inline_keyboard": True, "carousel": True, "lang_id": 0}
ERROR_TEXTS = {3: "Unknown method passed", 5: "User authorization failed", 6: "Too many requests per second",
               8: "Invalid request", 100: "One of the parameters specified was missing or invalid",
               901: "Can't send messages for users without permission", 911: "Keyboard format is invalid",
               914: "Message is too long"}


class ApiError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        text = ERROR_TEXTS.get(code, "Error")
        super().__init__(f"{text}: {detail}" if detail else text)
        self.code = code


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _keyboard_problem(raw: str) -> str:
    """What is wrong with a keyboard, "" when nothing."""
    try:
        keyboard = json.loads(raw)
    except ValueError:
        return "keyboard is not valid JSON"
    if not isinstance(keyboard, dict) or not isinstance(keyboard.get("buttons"), list):
        return "keyboard must be an object with buttons"
    rows = keyboard["buttons"]
    if not all(isinstance(row, list) for row in rows):
        return "buttons must be an array of arrays"
    inline = bool(keyboard.get("inline"))
    max_rows, max_row, max_total = (6, 5, 10) if inline else (10, 5, 40)
    if len(rows) > max_rows:
        return f"too many rows: {len(rows)} > {max_rows}"
    if any(len(row) > max_row for row in rows):
        return f"too many buttons in a row (max {max_row})"
    if sum(len(row) for row in rows) > max_total:
        return f"too many buttons (max {max_total})"
    for row in rows:
        for button in row:
            problem = _button_problem(button)
            if problem:
                return problem
    return ""


def _button_problem(button: Any) -> str:
    action = button.get("action") if isinstance(button, dict) else None
    if not isinstance(action, dict) or action.get("type") not in BUTTON_TYPES:
        return "each button needs an action of a known type"
    if "color" in button and button["color"] not in COLORS:
        return f"unknown button color {button['color']!r}"
    if action["type"] in ("text", "callback"):
        label = action.get("label")
        if not isinstance(label, str) or not label or len(label) > LABEL_MAX:
            return f"label must be 1-{LABEL_MAX} characters"
    payload = action.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or len(payload) > PAYLOAD_MAX:
            return f"payload must be a string of at most {PAYLOAD_MAX} characters"
        try:
            json.loads(payload)
        except ValueError:
            return "payload must be JSON"
    return ""


class VkEmulator(Emulator):
    name = "vk"
    default_rate_limit = 20  # calls a second with a community token

    def __init__(self, *, access_token: str | None = None, secret: str | None = None,
                 confirmation: str | None = None, group_id: int = 229_000_001, rate_limit: float | None = None,
                 webhook_url: str = "", dedup_window: float = 3600) -> None:
        self.access_token = access_token or "vk1.a." + secrets.token_urlsafe(64)
        self.secret = secret if secret is not None else secrets.token_hex(16)
        self.confirmation = confirmation or secrets.token_hex(4)
        self.group_id = group_id
        self.webhook_url = webhook_url
        self.dedup_window = dedup_window
        super().__init__(rate_limit=rate_limit)

    # state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.denied: set[int] = set()
        self.by_random_id: dict[int, tuple[int, float]] = {}  # random_id → (message id, when)
        self.last_message_id = 0
        self.call_times: deque[float] = deque()

    def credentials(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "secret": self.secret, "confirmation": self.confirmation,
                "group_id": self.group_id, "webhook_url": self.webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"messages": self.messages, "events": self.events, "denied": sorted(self.denied)}

    def control(self, spec: dict[str, Any]) -> None:
        if "denied" in spec:
            self.denied = {i for i in (_int(v) for v in spec["denied"] or []) if i is not None}
        for field in ("webhook_url", "secret", "confirmation", "access_token"):
            if field in spec:
                setattr(self, field, str(spec[field] or ""))
        if "dedup_window" in spec:
            self.dedup_window = float(spec["dedup_window"])

    def _rate_limited(self) -> bool:
        return False  # VK answers its limit as error 6 with HTTP 200 (see api)

    # routes -----------------------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule("/method/<name>", endpoint="api", methods=["GET", "POST"]),
            Rule("/_emulator/incoming", endpoint="user_writes", methods=["POST"]),
            Rule("/_emulator/press", endpoint="user_presses", methods=["POST"]),
            Rule("/_emulator/confirm", endpoint="check_server", methods=["POST"]),
        ]

    def api(self, request: Request, name: str) -> Response:
        params = dict(request.values.items())
        bearer = request.headers.get("Authorization", "")
        token = params.get("access_token") or (bearer[7:] if bearer.lower().startswith("bearer ") else "")
        handler = {"messages.send": self._send, "groups.getById": self._group}.get(name)
        try:
            with self.lock:
                if not token:
                    raise ApiError(5, "no access_token passed.")
                if token != self.access_token:
                    raise ApiError(5, "invalid access_token (4).")
                if not params.get("v"):
                    raise ApiError(8, "v (version) is required")
                if self._over_limit():
                    raise ApiError(6)
                if handler is None:
                    raise ApiError(3)
                response = handler(params)
        except ApiError as exc:
            request_params = [{"key": "method", "value": name}, {"key": "oauth", "value": "1"},
                              {"key": "v", "value": str(params.get("v") or "")}]
            return json_response({"error": {"error_code": exc.code, "error_msg": str(exc),
                                            "request_params": request_params}})
        return json_response({"response": response})

    def _over_limit(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        while self.call_times and now - self.call_times[0] >= 1.0:
            self.call_times.popleft()
        if len(self.call_times) >= self.rate_limit:
            return True
        self.call_times.append(now)
        return False

    # methods ----------------------------------------------------------------------------------
    def _send(self, params: dict[str, Any]) -> int:
        if params.get("random_id") in (None, ""):
            raise ApiError(100, "random_id is a required parameter")
        random_id = _int(params["random_id"])
        if random_id is None or not -INT32 <= random_id < INT32:
            raise ApiError(100, "random_id not integer")
        peer_id = _int(params.get("peer_id") or params.get("user_id"))
        if not peer_id:
            raise ApiError(100, "you should specify peer_id, user_id, domain, chat_id or user_ids param")
        text = str(params.get("message") or "")
        if not text.strip() and not params.get("attachment"):
            raise ApiError(100, "message is empty or invalid")
        if len(text) > TEXT_MAX:
            raise ApiError(914)
        keyboard = params.get("keyboard")
        if keyboard:
            problem = _keyboard_problem(str(keyboard))
            if problem:
                raise ApiError(911, problem)
        now = time.time()
        if random_id and random_id in self.by_random_id:
            message_id, when = self.by_random_id[random_id]
            if now - when < self.dedup_window:
                return message_id  # the same message again: VK does not send it twice
        if peer_id in self.denied:
            raise ApiError(901)
        self.last_message_id += 1
        self.messages.append({"id": self.last_message_id, "peer_id": peer_id, "random_id": random_id,
                              "message": text, "keyboard": json.loads(keyboard) if keyboard else None,
                              "date": int(now)})
        if random_id:
            self.by_random_id[random_id] = (self.last_message_id, now)
        return self.last_message_id

    def _group(self, params: dict[str, Any]) -> dict[str, Any]:
        asked = str(params.get("group_id") or params.get("group_ids") or self.group_id)
        if asked not in (str(self.group_id), f"club{self.group_id}"):
            raise ApiError(100, "group_ids is undefined")
        return {"groups": [{"id": self.group_id, "name": "Аквапарк (эмулятор)", "screen_name": f"club{self.group_id}",
                            "is_closed": 0, "type": "group",
                            "photo_50": "https://vk.com/images/community_50.png"}], "profiles": []}

    # users ------------------------------------------------------------------------------------
    def _event(self, kind: str, obj: dict[str, Any] | None = None) -> dict[str, Any]:
        event: dict[str, Any] = {"group_id": self.group_id, "type": kind, "event_id": secrets.token_hex(20),
                                 "v": API_VERSION}
        if obj is not None:
            event["object"] = obj
        if self.secret:
            event["secret"] = self.secret
        self.events.append(event)
        return event

    def _message_new(self, user_id: int, text: str, payload: str = "") -> dict[str, Any]:
        self.last_message_id += 1
        message: dict[str, Any] = {"date": int(time.time()), "from_id": user_id, "id": self.last_message_id,
                                   "out": 0, "version": self.last_message_id, "attachments": [],
                                   "conversation_message_id": self.last_message_id, "fwd_messages": [],
                                   "important": False, "is_hidden": False, "peer_id": user_id, "random_id": 0,
                                   "text": text}
        if payload:
            message["payload"] = payload
        return self._event("message_new", {"message": message, "client_info": CLIENT_INFO})

    def user_writes(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        user_id = _int(spec.get("from")) if isinstance(spec, dict) else None
        text = spec.get("text") if isinstance(spec, dict) else None
        if not user_id or user_id < 0 or not isinstance(text, str) or not text:
            return json_response({"error": "expected {\"from\": <user id>, \"text\"}"}, 400)
        with self.lock:
            event = self._message_new(user_id, text)
        return self._deliver(event)

    def user_presses(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        user_id = _int(spec.get("from")) if isinstance(spec, dict) else None
        data = spec.get("data") if isinstance(spec, dict) else None
        if not user_id or user_id < 0 or not isinstance(data, str) or not data:
            return json_response({"error": "expected {\"from\": <user id>, \"data\"}"}, 400)
        with self.lock:
            label, payload = self._button(user_id, data) or (data, json.dumps({"data": data}, ensure_ascii=False))
            event = self._message_new(user_id, label, payload)
        return self._deliver(event)

    def _button(self, peer_id: int, data: str) -> tuple[str, str] | None:
        """(label, payload) of the latest button sent to this user whose payload carries ``data``."""
        for sent in reversed(self.messages):
            if sent["peer_id"] != peer_id or not sent["keyboard"]:
                continue
            for row in sent["keyboard"].get("buttons") or []:
                for button in row:
                    action = button.get("action") or {}
                    try:
                        carried = json.loads(action.get("payload") or "null")
                    except ValueError:
                        continue
                    if isinstance(carried, dict) and carried.get("data") == data:
                        return str(action.get("label") or data), action["payload"]
        return None

    def check_server(self, request: Request) -> Response:
        with self.lock:
            event = self._event("confirmation")
        answer = self._deliver(event)
        result = json.loads(answer.get_data(as_text=True))
        result["confirmed"] = result.get("status") == 200 and result.get("body") == self.confirmation
        return json_response(result, answer.status_code)

    def _deliver(self, event: dict[str, Any]) -> Response:
        """POST the event to the server now, as VK would, and tell the caller the answer."""
        with self.lock:
            url = self.webhook_url
        if not url:
            return json_response({"error": "no server address set (faults {\"webhook_url\"})", "event": event}, 409)
        answered, body = self.post_now(url, json.dumps(event, ensure_ascii=False).encode(),
                                       {"Content-Type": "application/json"})
        status = answered or 0
        return json_response({"status": status, "body": body, "event": event})


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--access-token", default=None, help="the community token (default: a new random one)")
    parser.add_argument("--secret", default=None, help="the Callback API secret key")
    parser.add_argument("--confirmation", default=None, help="the string the server must answer")
    parser.add_argument("--group-id", type=int, default=229_000_001)
    parser.add_argument("--hub-webhook-url", default="", help="where Callback API events are posted")


def main() -> None:
    run_cli(lambda args: VkEmulator(access_token=args.access_token, secret=args.secret,
                                    confirmation=args.confirmation, group_id=args.group_id,
                                    rate_limit=args.rate_limit, webhook_url=args.hub_webhook_url),
            "VK API / Callback API emulator", _add_arguments)


if __name__ == "__main__":
    main()
