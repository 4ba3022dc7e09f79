"""One bot turn, the same for Telegram and VK: personal-data consent first (nothing else happens
without it), marketing consent asked separately, then the phone (Telegram: the client's own
shared contact; VK: a typed number confirmed by an SMS code) → the one contact behind it,
then the menu. The chat row is locked for the turn, so two updates of one chat never race."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from bots.models import BotChat
from bots.services.menu import balance_context, bookings_context
from bots.services.referral import invite_available, invite_context, referral_remember, referral_settle
from bots.texts import bot_text
from hub.models import Connection, ConsentRecord, ConsentText, ContactIdentity, DialogMessage
from hub.models.consent import Purpose
from hub.models.requests import ClientRequest
from hub.services.consent import consent_grant, consent_is_active, consent_text_current
from hub.services.contacts import (
    ContactData,
    contact_by_identity,
    contact_publish,
    contact_resolve,
    contact_upsert,
)
from hub.services.dialogs import dialog_message_record, dialog_messages_attach, dialog_note_text
from hub.services.normalize import phone_normalize
from hub.services.requests import client_request_create
from mailings.models import Channel
from mailings.services.codes import CodeRefused, code_check, code_send
from mailings.services.outgoing import message_reply

CODE_PURPOSE = "bot"
CHANGE_PHONE = re.compile(r"друг\w*\s+номер|изменить\s+номер", re.IGNORECASE)
CONSENT_PART = 3500  # characters of a document per message (Telegram takes 4096, VK 4096)
BOT_BUTTONS = {"pd", "mk", "menu", "phone"}  # prefixes of the bot's own button data
CONVERSATION_LINES = 10  # recent messages handed to the manager with the question

State = BotChat.State


@dataclass(frozen=True)
class BotInput:
    """What the client did, in the port's neutral terms."""

    user_id: str
    message_id: str  # the provider's id of the message or the button press: keys our answers
    text: str = ""
    data: str = ""  # a pressed button's data
    phone: str = ""  # a shared contact (Telegram)
    phone_user_id: str = ""  # whose contact that is
    first_name: str = ""
    last_name: str = ""

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> BotInput:
        shared = payload.get("contact") if isinstance(payload.get("contact"), dict) else {}
        return cls(user_id=str(payload.get("address") or ""), message_id=str(payload.get("provider_id") or ""),
                   text=str(payload.get("text") or "") if not shared else "", data=str(payload.get("data") or ""),
                   phone=str(shared.get("phone") or ""), phone_user_id=str(shared.get("user_id") or ""),
                   first_name=str(payload.get("first_name") or ""), last_name=str(payload.get("last_name") or ""))


class _Turn:
    """The answers of one turn, each keyed by the update it answers (a replayed update is not
    answered twice) and kept in the dialog history."""

    def __init__(self, connection: Connection, chat: BotChat, event: BotInput) -> None:
        self.connection, self.chat, self.event = connection, chat, event
        self.said = 0

    def say(self, text: str, buttons: list[list[dict[str, str]]] | None = None) -> None:
        key = f"bot:{self.connection.pk}:{self.chat.user_id}:{self.event.message_id}:{self.said}"
        self.said += 1
        message = message_reply(self.connection, self.chat.channel, self.chat.user_id, text, key=key,
                                contact=self.chat.contact, buttons=buttons)
        if message is not None:
            dialog_message_record(channel=self.chat.channel, chat_id=self.chat.user_id,
                                  direction=DialogMessage.Direction.OUT, text=text, contact=self.chat.contact,
                                  external_id=key)


def bot_expects(connection: Connection, user_id: str, data: str) -> bool:
    """Whether this is an answer the bot asked for (its own button, or a chat mid-way through
    consent, phone or a question to the manager): then it is the bot's, not a survey comment."""
    if data.split(":", 1)[0] in BOT_BUTTONS:
        return True
    state = BotChat.objects.filter(connection=connection, user_id=user_id).values_list("state", flat=True).first()
    return state is not None and state != State.MENU


def bot_receive(connection: Connection, channel: str, event: BotInput) -> str:
    """Handle one update; returns the chat's state after it."""
    if not event.user_id:
        return ""
    with transaction.atomic():
        chat, _ = BotChat.objects.get_or_create(connection=connection, user_id=event.user_id,
                                                defaults={"channel": channel})
        chat = BotChat.objects.select_for_update(of=("self",)).select_related("contact").get(pk=chat.pk)
        if chat.contact is not None and chat.contact.merged_into_id:
            chat.contact = contact_resolve(chat.contact)
        turn = _Turn(connection, chat, event)
        referral_remember(chat, event.text)
        _step(turn)
        referral_settle(chat)
        if event.first_name and _has_consent(chat, Purpose.PERSONAL_DATA):  # names are personal data too
            chat.first_name, chat.last_name = event.first_name[:150], event.last_name[:150]
        chat.save()
    _send_soon()
    return chat.state


def _send_soon() -> None:
    """The client waits for the answer: drain the outbox now rather than at the next beat."""
    from hub.tasks import outbox_drain_task  # tasks import services; enqueue lazily

    transaction.on_commit(lambda: outbox_drain_task.delay(max_batches=1), robust=True)


def _step(turn: _Turn) -> None:
    chat, event = turn.chat, turn.event
    if not _has_consent(chat, Purpose.PERSONAL_DATA):
        _consent_step(turn)
    elif chat.state == State.AWAIT_MARKETING:
        _marketing_step(turn)
    elif chat.contact is None:
        _phone_step(turn)
    elif event.data.startswith("menu:"):
        _menu_choice(turn, event.data.removeprefix("menu:"))
    elif chat.state == State.AWAIT_QUESTION and event.text.strip():
        _question(turn)
    elif event.text.strip().lower() == "/invite":
        _menu_choice(turn, "invite")
    else:
        chat.state = State.MENU
        _menu(turn, bot_text("unknown"))


# consent -----------------------------------------------------------------------------------
def _subject(chat: BotChat) -> dict[str, str]:
    return {"subject_kind": chat.channel, "subject_id": chat.user_id}


def _has_consent(chat: BotChat, purpose: str) -> bool:
    return consent_is_active(chat.contact, purpose, **_subject(chat))


def _shown_text(turn: _Turn, purpose: str) -> ConsentText | None:
    """The document version the pressed button was shown with (its id rides in the button's
    data): the record names the text the client actually saw. None when that is no longer
    the current version — the client is shown the new one."""
    text_id = turn.event.data.rsplit(":", 1)[-1]
    current = consent_text_current(purpose)
    return current if current is not None and text_id == str(current.pk) else None


def _grant(turn: _Turn, purpose: str, text: ConsentText) -> None:
    consent_grant(purpose=purpose, channel=turn.chat.channel, method=ConsentRecord.Method.BUTTON,
                  contact=turn.chat.contact, consent_text=text,
                  source={"connection": turn.connection.pk, "update": turn.event.message_id}, **_subject(turn.chat))


def _say_document(turn: _Turn, text: str) -> None:
    """A consent document in full, in parts if longer than one message can hold."""
    for start in range(0, len(text), CONSENT_PART):
        turn.say(text[start:start + CONSENT_PART])


def _consent_step(turn: _Turn) -> None:
    chat = turn.chat
    document = consent_text_current(Purpose.PERSONAL_DATA)
    if document is None:
        turn.say(bot_text("not_configured"))
        return
    shown = _shown_text(turn, Purpose.PERSONAL_DATA) if turn.event.data.startswith("pd:yes:") else None
    if shown is not None:
        _grant(turn, Purpose.PERSONAL_DATA, shown)
        if _has_consent(chat, Purpose.MARKETING) or consent_text_current(Purpose.MARKETING) is None:
            _after_consents(turn)
        else:
            chat.state = State.AWAIT_MARKETING
            _ask_marketing(turn)
        return
    if turn.event.data == "pd:no":
        chat.state = State.AWAIT_CONSENT
        turn.say(bot_text("consent_declined"))
        return
    chat.state = State.AWAIT_CONSENT
    _say_document(turn, document.text)
    turn.say(bot_text("consent_request", version=document.version, operator=document.operator_name),
             [[{"label": bot_text("consent_button_yes"), "data": f"pd:yes:{document.pk}"},
               {"label": bot_text("consent_button_no"), "data": "pd:no"}]])


def _ask_marketing(turn: _Turn) -> None:
    document = consent_text_current(Purpose.MARKETING)
    assert document is not None  # asked only when published
    turn.say(bot_text("marketing_request", consent_text=document.text[:CONSENT_PART], version=document.version),
             [[{"label": bot_text("marketing_button_yes"), "data": f"mk:yes:{document.pk}"},
               {"label": bot_text("marketing_button_no"), "data": "mk:no"}]])


def _marketing_step(turn: _Turn) -> None:
    shown = _shown_text(turn, Purpose.MARKETING) if turn.event.data.startswith("mk:yes:") else None
    if consent_text_current(Purpose.MARKETING) is None:
        _after_consents(turn)
    elif shown is None and turn.event.data != "mk:no":
        _ask_marketing(turn)  # anything else, or a button of an older version: ask (again) with the current text
    else:
        if shown is not None:
            _grant(turn, Purpose.MARKETING, shown)
        _after_consents(turn)


def _after_consents(turn: _Turn) -> None:
    if turn.chat.contact is None:
        turn.chat.state = State.AWAIT_PHONE
        _ask_phone(turn)
    else:
        turn.chat.state = State.MENU
        _menu(turn, bot_text("menu"))


# phone ----------------------------------------------------------------------------------------
def _ask_phone(turn: _Turn, key: str = "") -> None:
    if turn.chat.channel == ContactIdentity.Kind.TELEGRAM:
        turn.say(bot_text(key or "phone_request_telegram"),
                 [[{"label": bot_text("phone_button"), "data": "phone", "request": "phone"}]])
    else:
        turn.say(bot_text(key or "phone_request_vk"))


def _phone_step(turn: _Turn) -> None:
    chat, event = turn.chat, turn.event
    if chat.channel == ContactIdentity.Kind.TELEGRAM:
        if not event.phone:
            chat.state = State.AWAIT_PHONE
            _ask_phone(turn)
        elif event.phone_user_id != chat.user_id:  # someone else's card from the address book
            _ask_phone(turn, "phone_not_own")
        else:  # Telegram gives the number without "+": it is international, not a local one
            _register(turn, event.phone if event.phone.startswith("+") else f"+{event.phone}")
        return
    text = event.text.strip()
    try:
        phone = phone_normalize(text) if re.search(r"\d{10}", re.sub(r"\D", "", text)) else ""
    except ValidationError:
        phone = ""
    if chat.state == State.AWAIT_CODE and not phone:
        _code_step(turn, text)
    elif not phone:
        chat.state = State.AWAIT_PHONE
        _ask_phone(turn, "phone_invalid" if text else "")
    else:  # a number (also a new one typed while a code is awaited): a code to it
        try:
            code_send(phone, purpose=CODE_PURPOSE, via="sms")
        except CodeRefused as exc:
            turn.say(bot_text("code_refused", reason=exc.reason))
            return
        chat.state, chat.phone = State.AWAIT_CODE, phone
        turn.say(bot_text("code_sent", phone=phone))


def _code_step(turn: _Turn, text: str) -> None:
    chat = turn.chat
    if CHANGE_PHONE.search(text):
        chat.state, chat.phone = State.AWAIT_PHONE, ""
        _ask_phone(turn)
        return
    code = re.fullmatch(r"\s*(\d{6})\s*", text)
    if code is None:
        turn.say(bot_text("code_expected"))
        return
    try:
        confirmed = code_check(chat.phone, code.group(1), purpose=CODE_PURPOSE)
    except CodeRefused as exc:  # expired, used up, locked: a new number (or the same) starts over
        chat.state = State.AWAIT_PHONE
        turn.say(bot_text("code_refused", reason=exc.reason) + "\n\n" + bot_text("phone_request_vk"))
        return
    if confirmed:
        _register(turn, chat.phone)
    else:
        turn.say(bot_text("code_wrong"))


def _register(turn: _Turn, raw_phone: str) -> None:
    """The phone is the client's own: find them (or create them) and bind this chat to them.
    A known client keeps the names the business has; the messenger's names fill a new card."""
    chat = turn.chat
    try:
        phone = phone_normalize(raw_phone)
    except ValidationError:
        _ask_phone(turn, "phone_invalid")
        return
    known = contact_by_identity(ContactIdentity.Kind.PHONE, phone) or contact_by_identity(chat.channel, chat.user_id)
    data = ContactData(phones=[phone], messengers={chat.channel: chat.user_id},
                       **({} if known else {"first_name": chat.first_name, "last_name": chat.last_name}))
    contact, _ = contact_upsert(data)
    chat.contact, chat.phone, chat.state = contact, "", State.MENU
    if ConsentRecord.objects.filter(**_subject(chat), contact__isnull=True).update(contact=contact):
        contact_publish(contact)  # the CRM card shows the consents given in the chat
    dialog_messages_attach(chat.channel, chat.user_id, contact)
    _menu(turn, bot_text("registered", name=contact.first_name) + "\n\n" + bot_text("menu"))


# menu -----------------------------------------------------------------------------------------
def _menu(turn: _Turn, text: str) -> None:
    items = ("balance", "bookings", "manager", "info", *(("invite",) if invite_available() else ()))
    turn.say(text, [[{"label": bot_text(f"menu_{item}"), "data": f"menu:{item}"}] for item in items])


def _menu_choice(turn: _Turn, item: str) -> None:
    chat = turn.chat
    assert chat.contact is not None
    chat.state = State.MENU
    if item == "balance":
        _menu(turn, bot_text("balance", **balance_context(chat.contact, turn.connection)))
    elif item == "bookings":
        _menu(turn, bot_text("bookings", **bookings_context(chat.contact, turn.connection)))
    elif item == "manager":
        chat.state = State.AWAIT_QUESTION
        turn.say(bot_text("ask_question"))
    elif item == "info":
        _menu(turn, bot_text("info"))
    elif item == "invite" and invite_available():
        _menu(turn, bot_text("invite", **invite_context(chat.contact)))
    else:
        _menu(turn, bot_text("unknown"))


def _question(turn: _Turn) -> None:
    """The client's question, with the recent conversation, becomes a to-do for a manager."""
    chat = turn.chat
    recent = list(DialogMessage.objects.filter(channel=chat.channel, chat_id=chat.user_id)
                  .order_by("-sent_at", "-pk").values_list("pk", flat=True)[:CONVERSATION_LINES])
    title = f"Клиент просит связаться ({Channel(chat.channel).label})"
    client_request_create(kind=ClientRequest.Kind.CALLBACK, source=chat.channel, contact=chat.contact, title=title,
                          key=f"{chat.channel}:{turn.connection.pk}:{chat.user_id}:{turn.event.message_id}",
                          text=f"Вопрос: {turn.event.text.strip()}\n\nПереписка:\n{dialog_note_text(recent)}",
                          payload={"text": turn.event.text}, origin=turn.connection)
    chat.state = State.MENU
    _menu(turn, bot_text("passed_to_manager"))
