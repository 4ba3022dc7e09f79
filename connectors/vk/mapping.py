"""The VK API and Callback API in one place: method names, version, error codes, keyboard limits,
and the translation between VK's JSON and the message-channel port (``mailings.ports``). When VK
behaves differently from what is written here, this file (and the emulator) is what changes.

Confirmed (read in the sources below):

- calls are ``POST https://api.vk.com/method/<name>`` with ``access_token`` and ``v``; a
  failure is HTTP 200 with ``{"error": {"error_code", "error_msg"}}``; codes and texts of
  VK's machine-readable schema for v5.199: 5 "User authorization failed", 6 "Too many requests
  per second", 7 "Permission to perform this action is denied", 9 "Flood control", 10
  "Internal server error", 15 "Access denied", 27 "Group authorization failed", 29 "Rate limit
  reached", 100 "One of the parameters specified was missing or invalid", 900 "Can't send
  messages for users from blacklist", 901 "Can't send messages for users without permission",
  902 "Can't send messages to this user due to their privacy settings", 911 "Keyboard format is
  invalid", 914 "Message is too long" —
  https://github.com/VKCOM/vk-api-schema/blob/master/errors.json (and messages/methods.json:
  messages.send's error list)
- ``messages.send``: ``peer_id``, ``random_id`` ("unique identifier to avoid resending the
  message"; a plain integer in the schema, where 64-bit fields say ``int64``), ``message`` up
  to 9000 characters, ``keyboard`` as a JSON string; with one ``peer_id`` the answer is the new
  message's id — https://dev.vk.com/en/method/messages.send , VKCOM/vk-api-schema
  messages/methods.json
- keyboard ``{one_time, inline, buttons: [[{color?, action: {type: "text", label, payload}}]]}``,
  ``payload`` a JSON string sent back with the pressed button's message; an inline keyboard is
  at most 5 buttons a row, 6 rows and 10 buttons in all (the older page said 4×10 for any
  keyboard) — https://dev.vk.com/ru/api/bots/development/keyboard , https://vk.com/dev/bots_docs_3
- ``groups.getById`` (v ≥ 5.194) answers ``{"groups": [...], "profiles": [...]}`` —
  VKCOM/vk-api-schema groups/responses.json ``groups_getById_object_response``
- Callback API envelope ``{type, group_id, event_id, v, secret?, object}``; ``event_id`` is
  unique ("if it passed twice or more, ignore it"); ``type: "confirmation"`` is answered with
  the confirmation string, every other event with ``ok``; ``message_new`` carries ``object =
  {message: {id, date, peer_id, from_id, text, payload?…}, client_info}`` — VKCOM/vk-api-schema
  callback/objects.json (``callback_base``, ``callback_message_new``) and messages/objects.json,
  /work/shared/contracts/channels.md (after https://dev.vk.com/api/callback/getting-started)

Assumed (our design, change here if VK says otherwise):

- 6 → wait 1 s, 9 → 60 s (VK's flood control counts messages to one user per hour), 29 → an
  hour (a method's daily quota), 14 (captcha) → 60 s; 27/28 (group/app authorization) are bad
  credentials like 5; 1 and 10 are VK's own trouble, retried;
- any other refusal of ``messages.send`` concerns that message or that user: ``SendRefused``;
- ``random_id`` = the first 4 bytes of SHA-256 of the hub's message key, as a signed int32
  (never 0: VK skips the duplicate check for 0, as client libraries document);
- rows are split to 4 buttons (fits both the old and the new limit), at most 6 rows and 10
  buttons; a longer keyboard is refused rather than cut;
- a confirmation request without ``secret`` is still answered (VK's docs do not say it carries
  one); one with a wrong secret is refused like any event;
- ``message_new`` with neither text nor button data (a sticker, a photo) is kept as a
  ``vk.event``, as Telegram's non-text messages are; API versions before 5.103 put the message
  itself in ``object``, and are read too.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent
from mailings.ports import INCOMING, Button, OutgoingMessage, SendRefused

DEFAULT_BASE_URL = "https://api.vk.com"
API_VERSION = "5.199"

SEND = "messages.send"
GROUP = "groups.getById"

CONFIRMATION = "confirmation"
MESSAGE_NEW = "message_new"
#: Inbox kind of an event the mailings do not act on (kept with its object as payload).
EVENT = "vk.event"

TEXT_MAX = 9000
ROW_MAX, ROWS_MAX, BUTTONS_MAX = 4, 6, 10
PAYLOAD_MAX = 255  # characters of a button payload (vk.com/dev/bots_docs_3)

ERR_AUTH, ERR_TOO_MANY, ERR_FLOOD, ERR_SERVER, ERR_RATE_LIMIT = 5, 6, 9, 10, 29
#: error_code → seconds to wait before the next call
RATE_LIMITS = {ERR_TOO_MANY: 1.0, ERR_FLOOD: 60.0, 14: 60.0, ERR_RATE_LIMIT: 3600.0}
AUTH_ERRORS = frozenset({ERR_AUTH, 27, 28})
RETRYABLE = frozenset({1, ERR_SERVER})

REFUSALS = {
    7: "VK: у токена сообщества нет права писать сообщения (messages).",
    15: "VK: нет доступа к диалогу с этим клиентом.",
    100: "VK: неверный получатель (peer_id) или параметры сообщения.",
    900: "Клиент добавил сообщество в чёрный список VK.",
    901: "Клиент не разрешил сообществу присылать сообщения в VK.",
    902: "Клиент запретил сообщения настройками приватности VK.",
    911: "VK не принял клавиатуру сообщения.",
    914: f"Текст длиннее {TEXT_MAX} символов: VK его не принимает.",
}


def refusal_reason(code: int, message: str) -> str:
    """A Russian reason for a refusal of one message (shown in admin, not retried)."""
    return REFUSALS.get(code) or f"VK отклонил сообщение (код {code}): {message}"


# outgoing -------------------------------------------------------------------------------------
def random_id(key: str) -> int:
    """A stable signed 32-bit ``random_id`` for the hub's message key: a retried send is the same
    message to VK, which then does not deliver it twice."""
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big", signed=True)
    return value or 1


def peer_id(address: str) -> int:
    try:
        return int(str(address).strip())
    except ValueError:
        raise SendRefused("Неверный идентификатор получателя VK: ожидается число.") from None


def keyboard(rows: tuple[tuple[Button, ...], ...]) -> str | None:
    """An inline keyboard as the JSON string ``messages.send`` takes; each button's payload is
    ``{"data": <the button's data>}``. Rows longer than VK allows are split."""
    buttons = [[_button(button) for button in row[start:start + ROW_MAX]]
               for row in rows for start in range(0, len(row), ROW_MAX)]
    if not buttons:
        return None
    count = sum(len(row) for row in buttons)
    if len(buttons) > ROWS_MAX or count > BUTTONS_MAX:
        raise SendRefused(f"VK показывает под сообщением не больше {BUTTONS_MAX} кнопок в {ROWS_MAX} рядах "
                          f"(здесь {count} в {len(buttons)}).")
    return json.dumps({"inline": True, "buttons": buttons}, ensure_ascii=False)


def _button(button: Button) -> dict[str, Any]:
    payload = json.dumps({"data": button.data}, ensure_ascii=False)
    if len(payload) > PAYLOAD_MAX:
        raise SendRefused(f"Данные кнопки «{button.label}» слишком длинные для VK (не больше {PAYLOAD_MAX} "
                          "символов вместе с обёрткой).")
    if not button.label.strip():
        raise SendRefused("У кнопки нет подписи: VK такую кнопку не примет.")
    return {"action": {"type": "text", "label": button.label, "payload": payload}}


def send_params(message: OutgoingMessage) -> dict[str, Any]:
    """Form fields of ``messages.send``; what VK would refuse anyway is refused here, unsent."""
    if not message.text.strip():
        raise SendRefused("Пустой текст: VK его не принимает.")
    if len(message.text) > TEXT_MAX:
        raise SendRefused(f"Текст длиннее {TEXT_MAX} символов ({len(message.text)}): VK его не принимает.")
    params: dict[str, Any] = {"peer_id": peer_id(message.address), "random_id": random_id(message.key),
                              "message": message.text}
    markup = keyboard(message.buttons)
    if markup:
        params["keyboard"] = markup
    return params


def group_description(response: Any) -> str:
    """"Сообщество «name» (id N)" from ``groups.getById``, old (list) or new (object) shape."""
    groups = response.get("groups") if isinstance(response, dict) else response
    group = groups[0] if isinstance(groups, list) and groups and isinstance(groups[0], dict) else {}
    return f"Сообщество «{group.get('name') or group.get('screen_name') or '?'}» (id {group.get('id') or '?'})"


# incoming -------------------------------------------------------------------------------------
def button_data(payload: Any) -> str:
    """The hub's data of a pressed button: ``data`` of the message's JSON payload, else ""."""
    if not isinstance(payload, str) or not payload:
        return ""
    try:
        value = json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, or nested absurdly deep: no button of ours
        return ""
    data = value.get("data") if isinstance(value, dict) else None
    return data if isinstance(data, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def event_from_callback(body: dict[str, Any]) -> InboundEvent:
    """One Callback API event (not a confirmation) → one inbox event keyed by ``event_id``."""
    event_id = body.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise WebhookRejected("VK event has no event_id.")
    key = f"vk:{event_id.strip()}"
    kind, obj = body.get("type"), body.get("object")
    incoming = _incoming(obj) if kind == MESSAGE_NEW else None
    if incoming is not None:
        return InboundEvent(event_key=key, kind=INCOMING, payload=incoming)
    return InboundEvent(event_key=key, kind=EVENT,
                        payload={"type": kind, "object": obj if isinstance(obj, dict) else {}})


def _incoming(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    message = obj.get("message") if isinstance(obj.get("message"), dict) else obj  # v < 5.103: the message
    sender, message_id, peer = _int(message.get("from_id")), _int(message.get("id")), _int(message.get("peer_id"))
    text = message.get("text") if isinstance(message.get("text"), str) else ""
    data = button_data(message.get("payload"))
    if sender is None or message_id is None or (not text and not data):
        return None
    return {"address_kind": "vk", "address": str(sender), "text": text, "data": data,
            "provider_id": str(message_id), "peer_id": str(peer if peer is not None else sender)}


_SECRET_FIELD = re.compile(r'("secret"\s*:\s*)(?:"(?:[^"\\]|\\.)*"|[^,}\s]+)')


def redact_secret(raw_body: str) -> str:
    """The raw body with the shared secret VK sends in it replaced (never raises)."""
    return _SECRET_FIELD.sub(r'\1"***"', raw_body)
