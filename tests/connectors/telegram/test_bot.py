"""The Telegram bot end to end: the emulator posts real-shaped updates to the hub's webhook over
HTTP, the hub answers through the Bot API emulator."""

from __future__ import annotations

import json

import pytest
import requests

from bots.models import BotChat
from hub.models import ConsentRecord, Contact, Inbox
from tests.helpers import drain_outbox

USER = 500000000777
PHONE = "+79161234567"


def _said(telegram) -> list[dict]:
    return telegram.state()["messages"]


def _inline(message: dict) -> list[str]:
    return [b["callback_data"] for row in (message["reply_markup"] or {}).get("inline_keyboard", []) for b in row]


def _share(telegram, phone: str, owner: int = USER) -> int:
    answer = requests.post(f"{telegram.url}/_emulator/incoming",
                           json={"from": USER, "contact": {"phone_number": phone, "user_id": owner}}, timeout=30)
    return int(answer.json()["status"])


def test_a_client_registers_through_the_bot_and_sees_the_menu(telegram, live_server, consent_texts):
    telegram.hook_to(live_server)
    assert telegram.reply(str(USER), "/start") == 200
    drain_outbox()
    document, consent = _said(telegram)
    assert consent["chat_id"] == USER and document["text"] == "Согласен на обработку ПДн."
    agree, disagree = _inline(consent)
    assert agree.startswith("pd:yes:") and disagree == "pd:no"
    assert not Contact.objects.exists()

    assert telegram.press(str(USER), agree) == 200
    drain_outbox()
    assert len(telegram.state()["callback_answers"]) == 1  # the button's spinner stopped
    yes, no = _inline(_said(telegram)[-1])
    assert yes.startswith("mk:yes:") and no == "mk:no"
    telegram.press(str(USER), yes)
    drain_outbox()
    keyboard = _said(telegram)[-1]["reply_markup"]
    assert keyboard["keyboard"][0][0]["request_contact"] is True and keyboard["one_time_keyboard"] is True

    assert _share(telegram, "+79990001122", owner=42) == 200  # someone else's card
    drain_outbox()
    assert not Contact.objects.exists()
    assert _share(telegram, PHONE.removeprefix("+")) == 200  # Telegram sends it without "+"
    drain_outbox()
    contact = Contact.objects.get()
    assert contact.phone == PHONE
    assert ConsentRecord.objects.filter(contact=contact).count() == 2
    assert _inline(_said(telegram)[-1]) == ["menu:balance", "menu:bookings", "menu:manager", "menu:info"]
    telegram.press(str(USER), "menu:balance")
    drain_outbox()
    assert "0 баллов" in _said(telegram)[-1]["text"]


def _update(update_id: int, text: str) -> dict:
    return {"update_id": update_id, "message": {"message_id": 5, "date": 1764000000, "text": text,
                                                "from": {"id": USER, "is_bot": False, "first_name": "Павел"},
                                                "chat": {"id": USER, "type": "private"}}}


def test_a_redelivered_update_is_answered_once(telegram, live_server, consent_texts, client):
    url = telegram.connection.webhook_path
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": "emu-webhook-secret"}
    for _ in range(2):
        answer = client.post(url, json.dumps(_update(901, "/start")), content_type="application/json", **headers)
        assert answer.status_code == 200
    drain_outbox()
    assert Inbox.objects.filter(connection=telegram.connection).count() == 1
    assert len(_said(telegram)) == 2  # the document and the question, once
    assert BotChat.objects.get().state == BotChat.State.AWAIT_CONSENT


@pytest.mark.parametrize("secret", ["wrong", None])
def test_a_wrong_secret_is_403_and_nothing_is_processed(telegram, consent_texts, client, secret):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret else {}
    answer = client.post(telegram.connection.webhook_path, json.dumps(_update(902, "/start")),
                         content_type="application/json", **headers)
    assert answer.status_code == 403
    assert not BotChat.objects.exists() and not Inbox.objects.exclude(status=Inbox.Status.REJECTED).exists()


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"message": {}}'])
def test_garbage_is_400_with_a_reason(telegram, client, raw):
    answer = client.post(telegram.connection.webhook_path, raw, content_type="application/json",
                         HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="emu-webhook-secret")
    assert answer.status_code == 400 and answer.content.strip()
    assert not BotChat.objects.exists()


def test_stop_is_for_the_mailings_not_the_bot(telegram, live_server, consent_texts):
    telegram.hook_to(live_server)
    telegram.reply(str(USER), "СТОП")
    drain_outbox()
    texts = [m["text"] for m in _said(telegram)]
    assert len(texts) == 1 and "Согласен на обработку" not in texts[0]


def test_the_operator_registers_the_bot_webhook_with_a_new_secret(telegram, settings):
    from hub.services.connections import connection_register_webhook

    settings.HUB_PUBLIC_URL = "https://hub.example"
    telegram.connection.credentials = {"token": telegram.connection.credentials["token"]}
    telegram.connection.save()
    result = connection_register_webhook(telegram.connection)
    assert result.ok, result.message
    telegram.connection.refresh_from_db()
    secret = telegram.connection.credentials["webhook_secret"]
    webhook = telegram.state()["webhook"]
    assert webhook == {**webhook, "url": f"https://hub.example{telegram.connection.webhook_path}",
                       "secret_token": secret}
