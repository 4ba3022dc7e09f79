"""The Telegram Bot API in one place: method names, limits, error texts, and the translation
between Telegram's JSON and the message-channel port (``mailings.ports``). When Telegram
behaves differently from what is written here, this file (and the emulator) is what changes.

Confirmed (read in the sources below):

- every call is ``{base}/bot<token>/<method>``, JSON in, ``{"ok": true, "result"}`` out, or
  ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``;
  ``ResponseParameters.retry_after`` is "the number of seconds left to wait before the request
  can be repeated" — https://core.telegram.org/bots/api#making-requests ,
  https://core.telegram.org/bots/api#responseparameters
- ``sendMessage``: ``chat_id`` (Integer or String), ``text`` 1-4096 characters after entities
  parsing, optional ``reply_markup``; returns the sent Message (``message_id``) —
  https://core.telegram.org/bots/api#sendmessage
- ``InlineKeyboardMarkup {inline_keyboard: [[InlineKeyboardButton]]}``, a button's
  ``callback_data`` is 1-64 bytes — https://core.telegram.org/bots/api#inlinekeyboardbutton
- ``Update.update_id`` increases sequentially and is what repeated webhook deliveries are
  told apart by; at most one of ``message``, ``callback_query``… is present —
  https://core.telegram.org/bots/api#update
- ``CallbackQuery {id: String, from: User, message?, chat_instance, data?}``; clients show a
  progress bar until ``answerCallbackQuery`` is called, so it must be called even with nothing
  to show — https://core.telegram.org/bots/api#callbackquery ,
  https://core.telegram.org/bots/api#answercallbackquery
- ``setWebhook(url, secret_token)``: ``secret_token`` 1-256 of ``A-Za-z0-9_-`` comes back in
  header ``X-Telegram-Bot-Api-Secret-Token`` — https://core.telegram.org/bots/api#setwebhook
- user and chat ids may exceed 32 bits (they fit in 52) — https://core.telegram.org/bots/api#user
- limits: about 1 message a second in one chat, about 30 a second overall —
  https://core.telegram.org/bots/faq (as quoted in /work/shared/contracts/channels.md)

Seen in public reports and client libraries, not in Telegram's own reference (error texts are
matched by substring, so a rewording only loses the specific Russian reason):
``403 "Forbidden: bot was blocked by the user"``, ``403 "Forbidden: user is deactivated"``,
``403 "Forbidden: bot can't initiate conversation with a user"``, ``400 "Bad Request: chat not
found"``, ``400 "Bad Request: message text is empty"``, ``400 "Bad Request: BUTTON_DATA_INVALID"``
(callback_data over 64 bytes), ``401 "Unauthorized"`` for a revoked token and ``404 "Not
Found"`` for a malformed one (e.g. https://github.com/irazasyed/telegram-bot-sdk/issues/651,
https://github.com/TelegramBotAPI/errors/issues/2).

- a shared contact is ``message.contact {phone_number, first_name, last_name?, user_id?}``; the
  ``user_id`` is there when the contact is a Telegram user — https://core.telegram.org/bots/api#contact ;
  a reply keyboard button with ``request_contact`` asks for the user's own number and is sent
  only in private chats — https://core.telegram.org/bots/api#keyboardbutton

Assumed (our design): a callback button's data travels as given (the hub keeps it short);
updates neither the mailings nor the bot use (edited messages, photos, members…) are kept as
``telegram.update`` rows with the raw update.
"""

from __future__ import annotations

from typing import Any

from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent
from mailings.ports import INCOMING, Button, OutgoingMessage, SendRefused

DEFAULT_BASE_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name

GET_ME = "getMe"
SEND_MESSAGE = "sendMessage"
ANSWER_CALLBACK_QUERY = "answerCallbackQuery"
SET_WEBHOOK = "setWebhook"

TEXT_MAX = 4096  # characters
CALLBACK_DATA_MAX = 64  # bytes (UTF-8)

#: What the dialog history shows for a shared phone number (the number itself is in the payload).
SHARED_CONTACT_TEXT = "[поделился номером телефона]"

#: Inbox kind of an update the mailings do not act on (kept with the raw update as payload).
UPDATE = "telegram.update"

# Telegram's own words (lower-cased substrings of ``description``) → what people read in admin.
REFUSALS = (
    ("bot was blocked by the user", "Клиент заблокировал бота в Telegram."),
    ("user is deactivated", "Аккаунт клиента в Telegram удалён."),
    ("bot can't initiate conversation", "Клиент ещё не начинал диалог с ботом в Telegram."),
    ("bot was kicked", "Бота удалили из этого чата Telegram."),
    ("chat not found", "Чат не найден в Telegram: клиент не писал боту или идентификатор чата неверен."),
    ("message is too long", f"Текст длиннее {TEXT_MAX} символов: Telegram его не принимает."),
    ("message text is empty", "Пустой текст: Telegram его не принимает."),
    ("button_data_invalid", f"Данные кнопки длиннее {CALLBACK_DATA_MAX} байт: Telegram их не принимает."),
)


def refusal_reason(code: int, description: str) -> str:
    """A Russian reason for a refusal of one message (shown in admin, not retried)."""
    lowered = description.lower()
    for needle, reason in REFUSALS:
        if needle in lowered:
            return reason
    if code == 403:
        return f"Telegram запретил боту писать в этот чат: {description}"
    return f"Telegram отклонил сообщение (код {code}): {description}"


# outgoing -------------------------------------------------------------------------------------
def chat_id(address: str) -> int:
    """The hub's address of a Telegram chat (its id, as text) as Telegram wants it: a number."""
    try:
        return int(str(address).strip())
    except ValueError:
        raise SendRefused("Неверный идентификатор чата Telegram: ожидается число.") from None


def inline_keyboard(rows: tuple[tuple[Button, ...], ...]) -> dict[str, Any] | None:
    """``InlineKeyboardMarkup`` of callback buttons, rows as the campaign laid them out; a
    "share my number" button makes it a one-time ``ReplyKeyboardMarkup`` instead (only reply
    keyboards can ask for the contact)."""
    if any(button.request == "phone" for row in rows for button in row):
        return {"keyboard": [[{"text": button.label, "request_contact": True} for button in row
                              if button.request == "phone"] for row in rows if row],
                "one_time_keyboard": True, "resize_keyboard": True}
    keyboard = [[_button(button) for button in row] for row in rows if row]
    return {"inline_keyboard": keyboard} if keyboard else None


def _button(button: Button) -> dict[str, str]:
    size = len(button.data.encode())
    if not 1 <= size <= CALLBACK_DATA_MAX:
        raise SendRefused(f"Данные кнопки «{button.label}» должны занимать от 1 до {CALLBACK_DATA_MAX} байт "
                          f"(сейчас {size}): Telegram такую кнопку не примет.")
    if not button.label.strip():
        raise SendRefused("У кнопки нет подписи: Telegram такую кнопку не примет.")
    return {"text": button.label, "callback_data": button.data}


def send_message_body(message: OutgoingMessage) -> dict[str, Any]:
    """The ``sendMessage`` body; what Telegram would refuse anyway is refused here, unsent."""
    if not message.text.strip():
        raise SendRefused("Пустой текст: Telegram его не принимает.")
    if len(message.text) > TEXT_MAX:
        raise SendRefused(f"Текст длиннее {TEXT_MAX} символов ({len(message.text)}): Telegram его не принимает.")
    body: dict[str, Any] = {"chat_id": chat_id(message.address), "text": message.text}
    markup = inline_keyboard(message.buttons)
    if markup:
        body["reply_markup"] = markup
    return body


def bot_description(me: Any) -> str:
    """"Бот @name" from ``getMe``'s User."""
    me = me if isinstance(me, dict) else {}
    username = str(me.get("username") or "").strip()
    return f"Бот @{username}" if username else f"Бот {me.get('first_name') or me.get('id') or ''}".strip()


# incoming -------------------------------------------------------------------------------------
def _user_id(user: Any) -> str:
    if isinstance(user, dict) and isinstance(user.get("id"), int) and not isinstance(user.get("id"), bool):
        return str(user["id"])
    return ""


def event_from_update(update: dict[str, Any]) -> InboundEvent:
    """One webhook update → one inbox event, keyed by ``update_id``: a text message or a pressed
    button in the port's neutral INCOMING shape; any other update kept raw as ``telegram.update``."""
    update_id = update.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        raise WebhookRejected("Body is not a Telegram update: no integer update_id.")
    key = f"telegram:{update_id}"
    incoming = _incoming_message(update.get("message")) or _incoming_press(update.get("callback_query"))
    if incoming is None:
        return InboundEvent(event_key=key, kind=UPDATE, payload=update)
    return InboundEvent(event_key=key, kind=INCOMING, payload=incoming)


def _incoming_message(message: Any) -> dict[str, Any] | None:
    if not isinstance(message, dict):
        return None
    contact = _shared_contact(message.get("contact"))
    if not isinstance(message.get("text"), str) and contact is None:
        return None  # neither text nor a shared contact (a photo, a sticker…): kept as a raw update
    sender, chat = _user_id(message.get("from")), message.get("chat")
    if isinstance(chat, dict) and chat.get("type", "private") != "private":
        return None  # a group the bot was added to: kept raw, not a client's dialog with the bot
    chat_id_ = _user_id(chat)  # a Chat has an integer id like a User
    if not sender or not chat_id_ or not isinstance(message.get("message_id"), int):
        return None
    person = message.get("from") if isinstance(message.get("from"), dict) else {}
    text = message.get("text") if isinstance(message.get("text"), str) else SHARED_CONTACT_TEXT
    incoming = {"address_kind": "telegram", "address": sender, "text": text, "data": "",
                "provider_id": str(message["message_id"]), "chat_id": chat_id_,
                "first_name": str(person.get("first_name") or ""), "last_name": str(person.get("last_name") or "")}
    if contact is not None:
        incoming["contact"] = contact
    return incoming


def _shared_contact(contact: Any) -> dict[str, str] | None:
    """A shared phone (``message.contact``): ``{phone, user_id, first_name, last_name}``; the
    bot accepts it as the client's own only when ``user_id`` is the sender's id."""
    if not isinstance(contact, dict) or not isinstance(contact.get("phone_number"), str):
        return None
    return {"phone": contact["phone_number"], "user_id": _user_id({"id": contact.get("user_id")}),
            "first_name": str(contact.get("first_name") or ""), "last_name": str(contact.get("last_name") or "")}


def _incoming_press(query: Any) -> dict[str, Any] | None:
    if not isinstance(query, dict) or not isinstance(query.get("data"), str):
        return None  # a game button has no data: kept raw (and still answered)
    sender, query_id = _user_id(query.get("from")), query.get("id")
    if not sender or not isinstance(query_id, str) or not query_id:
        return None
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat_id_ = _user_id(message.get("chat"))
    return {"address_kind": "telegram", "address": sender, "text": "", "data": query["data"],
            "provider_id": query_id, "callback_query_id": query_id, "chat_id": chat_id_ or sender}


def callback_query_id(payload: Any) -> str:
    """The id of the callback query an inbox row carries (to be answered), "" when none."""
    if not isinstance(payload, dict):
        return ""
    if isinstance(payload.get("callback_query_id"), str):
        return payload["callback_query_id"]
    query = payload.get("callback_query")
    return str(query.get("id") or "") if isinstance(query, dict) else ""
