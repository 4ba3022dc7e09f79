"""Emulator of the Telegram Bot API (the part a hub's bot uses), written from Telegram's docs,
not from our client: https://core.telegram.org/bots/api (making requests, getMe, sendMessage,
InlineKeyboardMarkup, answerCallbackQuery, setWebhook, getWebhookInfo, Update, ResponseParameters)
and https://core.telegram.org/bots/faq (limits).

Protocol. ``GET|POST /bot<token>/<method>``, parameters as JSON, form fields or query string
(a ``reply_markup`` given as text is JSON-decoded), method names case-insensitive. Every answer
is ``{"ok": true, "result"}`` or ``{"ok": false, "error_code", "description"[, "parameters":
{"retry_after"}]}`` with the HTTP status equal to ``error_code``. A wrong secret part of the
token → 401 ``Unauthorized``; a string that is not a token at all, or an unknown method → 404
``Not Found``.

Methods: ``getMe``; ``sendMessage`` (``chat_id`` an integer, ``text`` 1-4096 characters, an
``inline_keyboard`` of arrays of buttons each with ``text`` and exactly one action, a
``callback_data`` of 1-64 bytes; other markups — reply keyboards with ``request_contact`` — are
kept as given); ``answerCallbackQuery`` (each query id from a press, answered once; ``text`` ≤ 200
characters); ``setWebhook`` (``url``, ``secret_token`` of 1-256 ``A-Za-z0-9_-``; without it no
secret header is sent) and ``getWebhookInfo``.

Limits (knobs, the real numbers by default): ``rate_limit`` sendMessage calls a second per bot
(30) and ``chat_rate_limit`` a second per chat (1); beyond them 429 ``Too Many Requests: retry
after N`` with ``parameters.retry_after`` = N (the seconds left in the window, at least 1, or the
``retry_after`` knob). ``rate_limit=0`` switches both off.

Chosen here, not stated by Telegram (our design, change if Telegram says otherwise): error texts
of malformed keyboards and secret tokens; any http(s) webhook URL is accepted (Telegram wants
HTTPS on ports 443/80/88/8443); message ids count per chat, shared by the bot's and the user's
messages; callback query ids are random 63-bit numbers as text.

Knobs (``POST /_emulator/faults``, besides the common ones): ``{"blocked": [user_id…]}`` — these
users blocked the bot: sendMessage to them answers 403 ``Forbidden: bot was blocked by the
user``; ``{"webhook_url"}``, ``{"webhook_secret"}``, ``{"token"}`` (the old one stops working),
``{"chat_rate_limit"}``, ``{"retry_after"}``.

Users (no auth, synchronous, the hub's answer returned as ``{"status", "body", "update"}``):
``POST /_emulator/incoming {"from": user_id, "text"}`` — the user writes to the bot (or shares
their number: ``"contact": {"phone_number", "first_name"}`` instead of ``text``);
``POST /_emulator/press {"from": user_id, "data"}`` — the user presses the inline button with
that callback data (the message carrying it is attached when the bot sent one). Each is one
real-shaped Update (increasing ``update_id``) posted to the webhook URL with header
``X-Telegram-Bot-Api-Secret-Token``.

Run: ``python -m connectors.telegram.emulator --port N [--token T] [--webhook-secret S]
[--hub-webhook-url URL] [--rate-limit 30] [--chat-rate-limit 1]``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import secrets
import time
from collections import deque
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
TEXT_MAX, CALLBACK_DATA_MAX, CALLBACK_ANSWER_MAX = 4096, 64, 200
BUTTON_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                  "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                  "callback_game", "pay")
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A Bot API refusal: answered ``{"ok": false, "error_code", "description"}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def response(self) -> Response:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return json_response(body, self.code)


def _integer(value: Any) -> int | None:
    """An id as Telegram takes it: a JSON integer or its decimal text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value.strip()):
        return int(value.strip())
    return None


class TelegramEmulator(Emulator):
    name = "telegram"
    default_rate_limit = 30  # sendMessage a second per bot

    def __init__(self, *, token: str | None = None, webhook_secret: str | None = None,
                 rate_limit: float | None = None, chat_rate_limit: float | None = None,
                 bot_username: str = "hub_demo_bot", webhook_url: str = "") -> None:
        self.token = token or f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"
        self.initial_secret = webhook_secret if webhook_secret is not None else secrets.token_urlsafe(24)
        self.initial_webhook_url = webhook_url
        self.bot_username = bot_username
        if chat_rate_limit is None:
            chat_rate_limit = 0 if rate_limit == 0 else 1
        self.chat_rate_limit = chat_rate_limit
        self.retry_after: int | None = None
        super().__init__(rate_limit=rate_limit)

    # state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.pending_queries: dict[str, int] = {}  # callback query id → user id, until answered
        self.blocked: set[int] = set()
        self.webhook: dict[str, Any] = {"url": self.initial_webhook_url, "secret_token": self.initial_secret,
                                        "last_error_date": None, "last_error_message": ""}
        self.next_update_id = 700_000_001
        self.last_message_id: dict[int, int] = {}
        self.sent_times: deque[float] = deque()
        self.chat_times: dict[int, deque[float]] = {}

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":", 1)[0]) if self.token.split(":", 1)[0].isdigit() else 0

    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Hub", "username": self.bot_username}

    def credentials(self) -> dict[str, Any]:
        return {"token": self.token, "webhook_secret": self.webhook["secret_token"], "webhook_url": self.webhook["url"]}

    def entities(self) -> dict[str, Any]:
        return {"messages": self.messages, "callback_answers": self.callback_answers, "updates": self.updates,
                "blocked": sorted(self.blocked), "chat_rate_limit": self.chat_rate_limit,
                "webhook": dict(self.webhook)}

    def control(self, spec: dict[str, Any]) -> None:
        if "blocked" in spec:
            self.blocked = {i for i in (_integer(v) for v in spec["blocked"] or []) if i is not None}
        if "webhook_url" in spec:
            self.webhook["url"] = str(spec["webhook_url"] or "")
        if "webhook_secret" in spec:
            self.webhook["secret_token"] = str(spec["webhook_secret"] or "")
        if spec.get("token"):
            self.token = str(spec["token"])
        if "chat_rate_limit" in spec:
            self.chat_rate_limit = float(spec["chat_rate_limit"] or 0)
        if "retry_after" in spec:
            self.retry_after = None if spec["retry_after"] is None else int(spec["retry_after"])
        if spec.get("rate_limit") == 0:  # "off" means both limits, as in the constructor
            self.chat_rate_limit = 0

    def _rate_limited(self) -> bool:
        return False  # Telegram's limits are per method and answered in its own shape (see _flood)

    # routes -----------------------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        return [
            Rule("/bot<token>/<method>", endpoint="api", methods=["GET", "POST"]),
            Rule("/_emulator/incoming", endpoint="user_writes", methods=["POST"]),
            Rule("/_emulator/press", endpoint="user_presses", methods=["POST"]),
        ]

    def api(self, request: Request, token: str, method: str) -> Response:
        handler = {"getme": self._get_me, "sendmessage": self._send_message,
                   "answercallbackquery": self._answer_callback_query, "setwebhook": self._set_webhook,
                   "getwebhookinfo": self._get_webhook_info}.get(method.lower())
        try:
            with self.lock:
                if token != self.token:
                    raise ApiError(404, "Not Found") if ":" not in token else ApiError(401, "Unauthorized")
                if handler is None:
                    raise ApiError(404, "Not Found")
                result = handler(self._params(request))
        except ApiError as exc:
            return exc.response()
        return json_response({"ok": True, "result": result})

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.args.items())
        if request.mimetype == "application/json":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")
            params.update(body)
        else:
            params.update(request.form.items())
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            try:
                params["reply_markup"] = json.loads(markup)
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
        return params

    # methods ----------------------------------------------------------------------------------
    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**self.bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat_id = _integer(params.get("chat_id"))
        if not chat_id:
            raise ApiError(400, "Bad Request: chat not found")
        wait = self._flood(chat_id)
        if wait is not None:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > TEXT_MAX:
            raise ApiError(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None:
            self._check_markup(markup)
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        message = {"message_id": self._next_message_id(chat_id), "from": self.bot_user(),
                   "chat": self._chat(chat_id), "date": int(time.time()), "text": text}
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # only an inline keyboard belongs to the message
        self.messages.append({"chat_id": chat_id, "message_id": message["message_id"], "text": text,
                              "reply_markup": markup, "date": message["date"]})
        return message

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self.pending_queries:
            raise ApiError(400, QUERY_INVALID)
        text = params.get("text") or ""
        if not isinstance(text, str) or len(text) > CALLBACK_ANSWER_MAX:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        user_id = self.pending_queries.pop(query_id)
        self.callback_answers.append({"callback_query_id": query_id, "from": user_id, "text": text,
                                      "show_alert": bool(params.get("show_alert"))})
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: url is empty")
        if url and not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: invalid URL")
        secret = params.get("secret_token")
        if secret is not None and (not isinstance(secret, str) or not SECRET_TOKEN.fullmatch(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook.update(url=url, secret_token=secret or "", last_error_date=None, last_error_message="")
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.webhook["url"], "has_custom_certificate": False,
                                "pending_update_count": 0, "max_connections": 40}
        if self.webhook["last_error_date"]:
            info.update(last_error_date=self.webhook["last_error_date"],
                        last_error_message=self.webhook["last_error_message"])
        return info

    # helpers ----------------------------------------------------------------------------------
    def _flood(self, chat_id: int) -> int | None:
        """Seconds to wait when this send is over the bot's or the chat's limit, else None (and
        the send is counted)."""
        now = time.monotonic()
        chat_times = self.chat_times.setdefault(chat_id, deque())
        for times in (self.sent_times, chat_times):
            while times and now - times[0] >= 1.0:
                times.popleft()
        for limit, times in ((self.rate_limit, self.sent_times), (self.chat_rate_limit, chat_times)):
            if limit and len(times) >= limit:
                return self.retry_after if self.retry_after is not None else max(1, math.ceil(1.0 - (now - times[0])))
        self.sent_times.append(now)
        chat_times.append(now)
        return None

    @staticmethod
    def _check_markup(markup: Any) -> None:
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for field in ("inline_keyboard", "keyboard"):
            if field not in markup:
                continue
            rows = markup[field]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(400, f'Bad Request: field "{field}" must be an Array of Arrays')
            for row in rows:
                for button in row:
                    TelegramEmulator._check_button(button, inline=field == "inline_keyboard")

    @staticmethod
    def _check_button(button: Any, *, inline: bool) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"].strip():
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text is empty"
                           if inline else "Bad Request: keyboard button text is empty")
        if not inline:
            return
        actions = [field for field in BUTTON_ACTIONS if field in button]
        if len(actions) != 1:
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: "
                                "InlineKeyboardButton must have exactly one optional field")
        if actions == ["callback_data"]:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _next_message_id(self, chat_id: int) -> int:
        self.last_message_id[chat_id] = self.last_message_id.get(chat_id, 0) + 1
        return self.last_message_id[chat_id]

    @staticmethod
    def _chat(chat_id: int, first_name: str = "") -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "group", "title": "Группа"}
        return {"id": chat_id, "type": "private", **({"first_name": first_name} if first_name else {})}

    @staticmethod
    def _user(user_id: int, first_name: str) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ru"}

    def _update(self, **content: Any) -> dict[str, Any]:
        update = {"update_id": self.next_update_id, **content}
        self.next_update_id += 1
        self.updates.append(update)
        return update

    # users ------------------------------------------------------------------------------------
    def user_writes(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        user_id = _integer(spec.get("from")) if isinstance(spec, dict) else None
        if not user_id or user_id < 0:
            return json_response({"error": "expected {\"from\": <user id>, \"text\"}"}, 400)
        name = str(spec.get("first_name") or "Клиент")
        message: dict[str, Any] = {"from": self._user(user_id, name), "chat": self._chat(user_id, name),
                                   "date": int(time.time())}
        contact = spec.get("contact")
        if isinstance(contact, dict):
            message["contact"] = {"phone_number": str(contact.get("phone_number") or ""),
                                  "first_name": str(contact.get("first_name") or name),
                                  "user_id": _integer(contact.get("user_id")) or user_id}
        elif isinstance(spec.get("text"), str) and spec["text"]:
            message["text"] = spec["text"]
        else:
            return json_response({"error": "expected a non-empty text (or a contact)"}, 400)
        with self.lock:
            message = {"message_id": self._next_message_id(user_id), **message}
            update = self._update(message=message)
        return self._deliver(update)

    def user_presses(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        user_id = _integer(spec.get("from")) if isinstance(spec, dict) else None
        data = spec.get("data") if isinstance(spec, dict) else None
        if not user_id or user_id < 0 or not isinstance(data, str) or not data:
            return json_response({"error": "expected {\"from\": <user id>, \"data\"}"}, 400)
        with self.lock:
            query_id = str(secrets.randbelow(2**63 - 10**18) + 10**18)
            user = self._user(user_id, str(spec.get("first_name") or "Клиент"))
            query: dict[str, Any] = {"id": query_id, "from": user,
                                     "chat_instance": str(abs(hash((self.bot_id, user_id))) % 10**19), "data": data}
            carrier = self._message_with_button(user_id, data)
            if carrier is not None:
                query["message"] = carrier
            self.pending_queries[query_id] = user_id
            update = self._update(callback_query=query)
        return self._deliver(update)

    def _message_with_button(self, chat_id: int, data: str) -> dict[str, Any] | None:
        for sent in reversed(self.messages):
            markup = sent["reply_markup"] if isinstance(sent["reply_markup"], dict) else {}
            buttons = [b for row in markup.get("inline_keyboard") or [] for b in row]
            if sent["chat_id"] == chat_id and any(b.get("callback_data") == data for b in buttons):
                return {"message_id": sent["message_id"], "from": self.bot_user(), "chat": self._chat(chat_id),
                        "date": sent["date"], "text": sent["text"], "reply_markup": markup}
        return None

    def _deliver(self, update: dict[str, Any]) -> Response:
        """POST the update to the webhook now, as Telegram would, and tell the caller the answer."""
        with self.lock:
            url, secret = self.webhook["url"], self.webhook["secret_token"]
        if not url:
            return json_response({"error": "no webhook set (setWebhook or faults {\"webhook_url\"})",
                                  "update": update}, 409)
        headers = {"Content-Type": "application/json", **({SECRET_HEADER: secret} if secret else {})}
        answered, body = self.post_now(url, json.dumps(update, ensure_ascii=False).encode(), headers)
        status = answered or 0
        if not 200 <= status < 300:
            with self.lock:
                self.webhook.update(last_error_date=int(time.time()),
                                    last_error_message=f"Wrong response from the webhook: {status}")
        return json_response({"status": status, "body": body, "update": update})


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", default=None, help="the bot token (default: a new random one)")
    parser.add_argument("--webhook-secret", default=None, help="secret_token sent with every update")
    parser.add_argument("--hub-webhook-url", default="", help="where updates are posted")
    parser.add_argument("--chat-rate-limit", type=float, default=None, help="messages a second per chat (1)")


def main() -> None:
    run_cli(lambda args: TelegramEmulator(token=args.token, webhook_secret=args.webhook_secret,
                                          rate_limit=args.rate_limit, chat_rate_limit=args.chat_rate_limit,
                                          webhook_url=args.hub_webhook_url),
            "Telegram Bot API emulator", _add_arguments)


if __name__ == "__main__":
    main()
