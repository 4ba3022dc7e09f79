"""Green-API (WhatsApp) in one place: paths, field names, statuses, error codes and their
translation to the message-channel port (``mailings.ports``). When Green-API behaves
differently from what is written here, this file (and the emulator) is what changes.

Confirmed from the public docs:

- ``POST {apiUrl}/waInstance{idInstance}/sendMessage/{apiTokenInstance}`` with
  ``{"chatId": "79001234567@c.us", "message"}`` answers ``{"idMessage"}``; the message is put in a
  queue (kept 24 h until the instance is authorized); there is no idempotency key.
  https://green-api.com/en/docs/api/sending/SendMessage/
- chat ids: a personal chat is ``<full number with country code>@c.us``, a group ``…@g.us``
  (and ``…@lid`` special ids). https://green-api.com/en/docs/api/chat-id/
- ``GET …/getStateInstance/{token}`` → ``{"stateInstance": notAuthorized | authorized | blocked |
  sleepMode | starting | yellowCard}``. https://green-api.com/en/docs/api/account/GetStateInstance
- rate limits per instance: sendMessage 50 req/s, getStateInstance and getSettings 1 req/s;
  above that HTTP 429. https://green-api.com/en/docs/api/ratelimiter
- 466 when the free Developer plan's limits are reached: ``{"invokeStatus": {method, used,
  total, status, description}, "correspondentsStatus": {…}}`` (3 chats a month).
  https://green-api.com/en/docs/api/466-error-example-body
- webhook ``outgoingMessageStatus``: ``{typeWebhook, chatId, instanceData, timestamp, idMessage,
  status: sent | delivered | read | failed | noAccount | notInGroup | yellowCard, description?,
  sendByApi}``; failed and noAccount cannot be switched off.
  https://green-api.com/en/docs/api/receiving/notifications-format/outgoing-message/OutgoingMessageStatus
- webhook ``incomingMessageReceived``: ``{typeWebhook, instanceData: {idInstance, wid,
  typeInstance}, timestamp, idMessage, senderData: {chatId, sender, chatName, senderName, …},
  messageData: {typeMessage, textMessageData: {textMessage}}}``; ``extendedTextMessage`` carries
  ``extendedTextMessageData.text``.
  https://green-api.com/en/docs/api/receiving/notifications-format/incoming-message/TextMessage/
- webhook delivery: a non-200 answer is retried after 60 s, for 24 h; the server may set a
  "Webhook URL Token" to authorize deliveries.
  https://green-api.com/en/docs/api/receiving/technology-webhook-endpoint/ and
  https://green-api.com/en/docs/api/recommendations/working-with-incomming-webhooks/

Assumed (not stated where we could read it; change here if Green-API differs):

- the webhook token arrives as ``Authorization: Bearer <webhookUrlToken>``; a bare
  ``Authorization: <token>`` is accepted too;
- a wrong idInstance/apiTokenInstance answers 401 (403 is treated the same);
- a bad chatId answers 400 with a JSON body ``{"message" | "description": …}``; a chatId is
  refused unless it is 10–15 digits before ``@c.us`` (the emulator's rule);
- a 429 carries no Retry-After: the per-second limits mean one second is enough;
- a ``yellowCard`` status of a message means it was not sent (it may sit in the queue for
  24 h): it is reported as failed so the campaign can try another channel.
"""

from __future__ import annotations

import re
from typing import Any

from mailings.ports import DELIVERED, FAILED, READ, SENT, SendRefused

SYSTEM = "greenapi"
DEFAULT_BASE_URL = "https://api.green-api.com"
#: sendMessage's limit per instance (the ratelimiter page); checks use 1 req/s methods rarely
DEFAULT_RATE_LIMIT = "50/second"

# methods: ``{apiUrl}/waInstance{idInstance}/{method}/{apiTokenInstance}`` ---------------------------
SEND_MESSAGE = "sendMessage"
GET_STATE = "getStateInstance"
GET_SETTINGS = "getSettings"


def method_path(id_instance: str, method: str, api_token: str) -> str:
    return f"/waInstance{id_instance}/{method}/{api_token}"


# addresses ------------------------------------------------------------------------------------------
PERSONAL_SUFFIX = "@c.us"
_E164 = re.compile(r"^\+?(\d+)$")


def chat_id(address: str) -> str:
    """``+79001234567`` → ``79001234567@c.us``. Only the shape is checked here (digits); whether
    the number is plausible is Green-API's to say (a 400, turned into a refusal)."""
    match = _E164.match((address or "").strip())
    if not match:
        raise SendRefused("Адрес получателя не похож на номер телефона: WhatsApp-сообщение не отправлено.")
    return match.group(1) + PERSONAL_SUFFIX


def phone_from_chat_id(value: Any) -> str | None:
    """``79001234567@c.us`` → ``+79001234567``; None for groups and other non-phone chats."""
    if not isinstance(value, str) or not value.endswith(PERSONAL_SUFFIX):
        return None
    digits = value[: -len(PERSONAL_SUFFIX)]
    return f"+{digits}" if digits.isdigit() and 5 <= len(digits) <= 15 else None


# webhooks -------------------------------------------------------------------------------------------
TYPE_STATUS = "outgoingMessageStatus"
TYPE_INCOMING = "incomingMessageReceived"
#: our own messages coming back (sent from the API or the phone): acknowledged, nothing stored
ECHO_TYPES = frozenset({"outgoingMessageReceived", "outgoingAPIMessageReceived"})

#: their status → (neutral status, reason shown to operators for failures)
STATUSES: dict[str, tuple[str, str]] = {
    "sent": (SENT, ""),
    "delivered": (DELIVERED, ""),
    "read": (READ, ""),
    "failed": (FAILED, "WhatsApp не смог отправить сообщение"),
    "noAccount": (FAILED, "На этом номере нет WhatsApp"),
    "notInGroup": (FAILED, "Отправитель не состоит в групповом чате"),
    "yellowCard": (FAILED, "WhatsApp ограничил отправку с номера компании (yellowCard, подозрение на спам)"),
}


def status_of(status: str, description: Any = "") -> tuple[str, str] | None:
    """(neutral status, reason) for a status report, None for a status this file does not know."""
    known = STATUSES.get(status)
    if known is None:
        return None
    neutral, reason = known
    detail = str(description).strip() if isinstance(description, str | int) else ""
    if neutral == FAILED and detail:
        reason = f"{reason} ({detail[:300]})"
    return neutral, reason


def incoming_text(message_data: Any) -> str | None:
    """The text of an incoming text message; None for other kinds (media, reactions, polls…)."""
    if not isinstance(message_data, dict):
        return None
    kind = message_data.get("typeMessage")
    if kind == "textMessage":
        data = message_data.get("textMessageData")
        text = data.get("textMessage") if isinstance(data, dict) else None
    elif kind in ("extendedTextMessage", "quotedMessage"):
        data = message_data.get("extendedTextMessageData")
        text = data.get("text") if isinstance(data, dict) else None
    else:
        return None
    return text if isinstance(text, str) else None


# errors ---------------------------------------------------------------------------------------------
AUTH_TEXT = ("Green-API не принял idInstance или apiTokenInstance: проверьте их в настройках подключения "
             "(личный кабинет console.green-api.com).")
BAD_REQUEST_TEXT = "Green-API отклонил сообщение: неверный номер получателя или текст"
QUOTA_TEXT = ("Green-API: исчерпан лимит тарифа «Разработчик» (не больше 3 чатов или лимит запросов в месяц); "
              "нужен тариф «Бизнес»")

#: their state → (works, description for operators)
STATES: dict[str, tuple[bool, str]] = {
    "authorized": (True, "Инстанс авторизован"),
    "yellowCard": (True, "Инстанс авторизован, но WhatsApp ограничил отправку (yellowCard): снизьте активность "
                         "и перезагрузите инстанс"),
    "notAuthorized": (False, "Инстанс не авторизован: отсканируйте QR-код в личном кабинете Green-API"),
    "blocked": (False, "Номер компании заблокирован в WhatsApp"),
    "sleepMode": (False, "Телефон компании выключен или без сети (sleepMode)"),
    "starting": (False, "Инстанс запускается, повторите проверку через несколько минут"),
}


def state_text(state: Any) -> tuple[bool, str]:
    return STATES.get(str(state), (False, f"Неизвестное состояние инстанса: {str(state)[:50]!r}"))


def error_detail(body: Any) -> str:
    """A short detail from Green-API's error body (JSON object or text)."""
    if isinstance(body, dict):
        for part in ("invokeStatus", "correspondentsStatus"):
            inner = body.get(part)
            if isinstance(inner, dict) and inner.get("description"):
                return str(inner["description"])[:300]
        for field in ("description", "message", "error"):
            if body.get(field):
                return str(body[field])[:300]
        return ""
    return str(body or "").strip()[:300]
