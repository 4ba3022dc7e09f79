"""Wazzup (API v3) in one place: paths, field names, statuses, error codes and their
translation to the message-channel port (``mailings.ports``). When Wazzup behaves differently
from what is written here, this file (and the emulator) is what changes.

Confirmed from the public docs:

- ``POST https://api.wazzup24.com/v3/message`` with ``Authorization: Bearer <apiKey>`` and
  ``{channelId*, chatType*: "whatsapp", chatId: "79011112233" (digits only), text, crmMessageId?}``;
  text up to 10 000 characters for WhatsApp. The route is not idempotent; with ``crmMessageId``
  a repeated request is not sent again and answers 400 ``{"error": "repeatedCrmMessageId",
  "description": "You have already sent message with the same crmMessageId"}``.
  https://wazzup24.com/help/api-en/sending-messages/
- errors: 4xx with an empty body or ``{"error": "<CODE>", "description", "data"?}``; 401 a missing
  or wrong key; 403 a route closed to a sidecar key; 429 above 500 requests every 5 seconds
  (the counter resets every 5 s); 500 internal. https://wazzup24.com/help/api-en/common-errors/
- ``GET /v3/channels`` → ``[{"channelId", "transport": "whatsapp", "plainId", "state": active |
  init | disabled | phoneUnavailable | qr | openElsewhere | notEnoughMoney | foreignphone |
  unauthorized | waitForPassword}]``. https://wazzup24.com/help/api-en/working-with-channels/
- webhooks: POST with JSON ``{"messages": [...], "statuses": [...]}`` (both may come in one
  request); ``Authorization: Bearer <crmKey>`` only when Wazzup has the CRM key; a test POST
  ``{"test": true}`` when the URL is set, which must be answered 200; 200 expected within 30 s.
  https://wazzup24.com/help/api-documentation-en/webhooks/ (Russian: https://wazzup24.ru/help/api-ru/webhooks-2/)

Known second-hand only (the task's notes on the docs, and a third-party summary of the Russian
webhook page; the page itself could not be read in full here — re-check against it):

- the send answer is ``{"messageId", "chatId"}`` (HTTP 201 in the emulator; any 2xx is accepted);
- a message webhook item: ``{messageId, channelId, chatType, chatId, dateTime, type: text | image
  | …, isEcho, text, contentUri, status: sent | delivered | read | error | inbound, contact:
  {name, avatarUri, …}, isEdited?, isDeleted?}``; ``isEcho`` is true for outgoing messages;
- a status item: ``{messageId, timestamp, status: sent | delivered | read | error | edited,
  error?: {error, description}}``; status error codes include BAD_CONTACT (no such account in the
  messenger), SPAM, TOO_LONG_TEXT, 24_HOURS_EXCEEDED;
- synchronous codes INVALID_MESSAGE_DATA, CHANNEL_NOT_FOUND, CHANNEL_BLOCKED, CHANNEL_NO_MONEY,
  MESSAGE_CHANNEL_UNAVAILABLE, WRONG_TRANSPORT, MESSAGES_IS_SPAM, BAD_CONTACT, …

Assumed (ours; change here if Wazzup says otherwise):

- a number without WhatsApp is accepted by ``/v3/message`` and reported afterwards as a status
  ``error`` with ``BAD_CONTACT`` (a synchronous BAD_CONTACT is treated as a refusal too);
- a retry refused with ``repeatedCrmMessageId`` means the first attempt did send; Wazzup gives no
  messageId then, so the provider id becomes ``crm:<hub key>`` and later statuses of that
  message cannot be matched;
- an unknown 400 code on sending is a refusal of that message (the campaign's next channel is
  tried), other 4xx are fatal;
- a 429 without Retry-After: wait out the 5-second window.
"""

from __future__ import annotations

import re
from typing import Any

from mailings.ports import DELIVERED, FAILED, READ, SENT, SendRefused

SYSTEM = "wazzup"
DEFAULT_BASE_URL = "https://api.wazzup24.com"
#: "no more than 500 requests every 5 seconds" per key (common errors page)
DEFAULT_RATE_LIMIT = "500/5 seconds"
RATE_WINDOW = 5.0

MESSAGE_PATH = "/v3/message"
CHANNELS_PATH = "/v3/channels"
CHAT_TYPE = "whatsapp"
CRM_PREFIX = "crm:"

# addresses ------------------------------------------------------------------------------------------
_E164 = re.compile(r"^\+?(\d+)$")


def chat_id(address: str) -> str:
    """``+79011112233`` → ``79011112233`` (Wazzup: digits only, no spaces or symbols). Only the
    shape is checked here; whether the number exists is Wazzup's to say."""
    match = _E164.match((address or "").strip())
    if not match:
        raise SendRefused("Адрес получателя не похож на номер телефона: WhatsApp-сообщение не отправлено.")
    return match.group(1)


def phone_from_chat_id(value: Any) -> str | None:
    """``79011112233`` → ``+79011112233``; None for what is not a phone number."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return f"+{text}" if text.isdigit() and 5 <= len(text) <= 15 else None


# webhook statuses -----------------------------------------------------------------------------------
STATUSES = {"sent": SENT, "delivered": DELIVERED, "read": READ, "error": FAILED}

#: error codes of a failed message (status webhooks; some also answer a send) → Russian reason
STATUS_ERRORS = {
    "BAD_CONTACT": "На этом номере нет WhatsApp",
    "SPAM": "WhatsApp счёл сообщение спамом",
    "TOO_LONG_TEXT": "Слишком длинный текст",
    "TOO_BIG_CONTENT": "Слишком большой файл",
    "24_HOURS_EXCEEDED": "Закрыто 24-часовое окно WABA: нужен шаблон",
    "BAD_LINK": "Ссылка не пропущена фильтрами мессенджера",
}
FAILED_TEXT = "WhatsApp не доставил сообщение"


def status_error(error: Any) -> str:
    """The reason of a failed status, from ``{"error": code, "description"}``."""
    code = str(error.get("error") or "") if isinstance(error, dict) else ""
    description = str(error.get("description") or "")[:300] if isinstance(error, dict) else ""
    reason = STATUS_ERRORS.get(code, FAILED_TEXT)
    detail = description or (code if code and code not in STATUS_ERRORS else "")
    return f"{reason} ({detail})" if detail else reason


# API errors -----------------------------------------------------------------------------------------
REFUSED, CONFIG, RETRY, REPEATED = "refused", "config", "retry", "repeated"

#: their code → (what the hub does, Russian text for operators)
ERRORS: dict[str, tuple[str, str]] = {
    "INVALID_MESSAGE_DATA": (REFUSED, "Wazzup отклонил сообщение: неверный номер получателя или текст"),
    "BAD_CONTACT": (REFUSED, "На этом номере нет WhatsApp"),
    "MESSAGES_IS_SPAM": (REFUSED, "WhatsApp счёл сообщение спамом и не доставил его"),
    "MESSAGES_NOT_TEXT_FIRST": (REFUSED, "Тариф Wazzup не позволяет написать клиенту первым"),
    "CHANNEL_LIMIT_EXCEEDED": (REFUSED, "Исчерпан лимит новых диалогов канала Wazzup"),
    "TEMPLATE_REJECTED": (REFUSED, "Шаблон WABA отклонён"),
    "CHANNEL_NOT_FOUND": (CONFIG, "Канал Wazzup не найден: проверьте channel_id в настройках подключения"),
    "WRONG_TRANSPORT": (CONFIG, "Канал Wazzup не является каналом WhatsApp: проверьте channel_id"),
    "CHANNEL_BLOCKED": (CONFIG, "Канал Wazzup выключен"),
    "CHANNEL_WAPI_REJECTED": (CONFIG, "Канал WABA заблокирован"),
    "CHANNEL_NO_MONEY": (CONFIG, "Канал Wazzup не оплачен"),
    "MESSAGE_CHANNEL_UNAVAILABLE": (RETRY, "Канал Wazzup недоступен: телефон не в сети или переподключается"),
    "REPEATEDCRMMESSAGEID": (REPEATED, "Сообщение с этим crmMessageId уже отправлено"),
}
AUTH_TEXT = "Wazzup не принял ключ API: проверьте api_key в настройках подключения (раздел «Интеграция с CRM»)."
FORBIDDEN_TEXT = "Этот ключ Wazzup не даёт доступа к методу (ключ sidecar?): нужен ключ API интеграции."
UNKNOWN_REFUSAL = "Wazzup отклонил сообщение"


def _normal(code: str) -> str:
    """``repeatedCrmMessageId`` and ``REPEATED_CRM_MESSAGE_ID`` are one code."""
    return re.sub(r"[^A-Z0-9]", "", code.upper())


_ERRORS = {_normal(code): value for code, value in ERRORS.items()}


def error_kind(code: str, status: int) -> tuple[str, str]:
    """(kind, Russian text) for an error answer; unknown 400s refuse the message."""
    known = _ERRORS.get(_normal(code))
    if known is not None:
        return known
    return (REFUSED, UNKNOWN_REFUSAL) if status == 400 else ("fatal", f"Wazzup ответил ошибкой HTTP {status}")


def error_fields(body: Any) -> tuple[str, str]:
    """(code, description) from an error body ``{"error", "description", "data"}`` (or nothing)."""
    if not isinstance(body, dict):
        return "", str(body or "").strip()[:300]
    error = body.get("error")
    if isinstance(error, dict):  # a few routes nest it
        return str(error.get("code") or error.get("error") or ""), str(error.get("description") or "")[:300]
    description = str(body.get("description") or body.get("message") or "")[:300]
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("fields"), list):
        description = f"{description} [{', '.join(str(f) for f in data['fields'][:10])}]".strip()
    return str(error or ""), description


# channels -------------------------------------------------------------------------------------------
#: channel state → (works, Russian description)
CHANNEL_STATES: dict[str, tuple[bool, str]] = {
    "active": (True, "Канал WhatsApp активен"),
    "init": (False, "Канал запускается, повторите проверку через минуту"),
    "disabled": (False, "Канал выключен"),
    "phoneUnavailable": (False, "Нет связи с телефоном канала"),
    "qr": (False, "Нужно отсканировать QR-код канала"),
    "openElsewhere": (False, "Канал открыт в другом аккаунте Wazzup"),
    "notEnoughMoney": (False, "Канал не оплачен"),
    "foreignphone": (False, "QR-код канала отсканирован другим номером"),
    "unauthorized": (False, "Канал не авторизован"),
    "waitForPassword": (False, "Канал ждёт пароль двухфакторной аутентификации"),
}
TEMPORARY_STATES = frozenset({"init", "phoneUnavailable"})


def channel_state(state: Any) -> tuple[bool, str]:
    return CHANNEL_STATES.get(str(state), (False, f"Неизвестное состояние канала: {str(state)[:50]!r}"))
