"""Telegram's webhook at the hub: the secret header checked (a refusal kept for audit only), one
inbox row per update in the port's neutral shape, a redelivery adds nothing, a body that is not
an update is refused with the reason. The updates are the emulator's own (real-shaped).
Rows are asserted, not their processing: that is the mailings domain's."""

import json
import logging

import pytest
import requests

from hub.models import Inbox
from hub.sync import registry
from mailings.ports import INCOMING
from tests.connectors.telegram.side import WEBHOOK_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

USER = 5_000_000_001


def update(telegram, action="incoming", **spec):
    """A real-shaped update made by the emulator (no webhook set: it is returned, not posted)."""
    answer = requests.post(f"{telegram.url}/_emulator/{action}", json={"from": USER, **spec}, timeout=5)
    assert answer.status_code == 409
    return answer.json()["update"]


def post(client, telegram, body, secret=WEBHOOK_SECRET, raw=None):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(telegram.connection.webhook_path, data=data, content_type="application/json", headers=headers)


def events():
    return list(Inbox.objects.exclude(status=Inbox.Status.REJECTED).order_by("pk"))


def test_a_text_message_is_an_incoming_row(telegram, client):
    body = update(telegram, text="Хочу забронировать")
    answer = post(client, telegram, body)
    assert answer.status_code == 200
    [row] = events()
    assert row.kind == INCOMING and row.event_key == f"telegram:{body['update_id']}"
    assert row.payload == {"address_kind": "telegram", "address": str(USER), "text": "Хочу забронировать",
                           "data": "", "provider_id": str(body["message"]["message_id"]), "chat_id": str(USER),
                           "first_name": "Клиент", "last_name": ""}


def test_a_shared_contact_is_an_incoming_row_with_whose_number_it_is(telegram, client):
    body = update(telegram, contact={"phone_number": "79001234567", "user_id": 42})
    assert post(client, telegram, body).status_code == 200
    [row] = events()
    assert row.kind == INCOMING and row.payload["text"] == "[поделился номером телефона]"
    assert row.payload["contact"] == {"phone": "79001234567", "user_id": "42", "first_name": "Клиент",
                                      "last_name": ""}


def test_a_pressed_button_is_an_incoming_row_with_its_data(telegram, client):
    body = update(telegram, "press", data="nps:9")
    assert post(client, telegram, body).status_code == 200
    [row] = events()
    query_id = body["callback_query"]["id"]
    assert row.kind == INCOMING and row.event_key == f"telegram:{body['update_id']}"
    assert row.payload == {"address_kind": "telegram", "address": str(USER), "text": "", "data": "nps:9",
                           "provider_id": query_id, "callback_query_id": query_id, "chat_id": str(USER)}


def test_a_redelivered_update_is_one_row(telegram, client):
    body = update(telegram, text="Привет")
    assert post(client, telegram, body).status_code == 200
    assert post(client, telegram, body).status_code == 200  # Telegram retries after a lost answer
    assert len(events()) == 1


def test_other_updates_are_kept_raw(telegram, client):
    message = update(telegram, text="Привет")
    edited = {"update_id": message["update_id"] + 1, "edited_message": {**message["message"], "text": "Исправил"}}
    photo = {"update_id": message["update_id"] + 2,
             "message": {**{k: v for k, v in message["message"].items() if k != "text"}, "photo": []}}
    for body in (edited, photo):
        assert post(client, telegram, body).status_code == 200
    rows = events()
    assert [(r.kind, r.payload) for r in rows] == [("telegram.update", edited), ("telegram.update", photo)]


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x"])
def test_a_wrong_secret_is_403_and_nothing_is_stored(telegram, client, secret):
    answer = post(client, telegram, update(telegram, text="Привет"), secret=secret)
    assert answer.status_code == 403 and "X-Telegram-Bot-Api-Secret-Token" in answer.json()["error"]
    assert events() == []
    assert Inbox.objects.get().status == Inbox.Status.REJECTED  # kept for audit, not as an event


def test_no_secret_configured_refuses_everything(telegram, client):
    telegram.connection.credentials = {"token": telegram.connection.credentials["token"]}
    telegram.connection.save()
    assert post(client, telegram, update(telegram, text="x"), secret="").status_code == 403
    assert events() == []


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{", "valid JSON"),
    (b"[]", "JSON object"),
    (b'{"message": {"text": "x"}}', "update_id"),
    (b'{"update_id": "12", "message": {}}', "update_id"),
    (b'{"update_id": true}', "update_id"),
    (b"\xff", "UTF-8"),
])
def test_garbage_is_400_with_a_reason(telegram, client, raw, reason):
    answer = post(client, telegram, None, raw=raw)
    assert answer.status_code == 400 and reason in answer.json()["error"]
    assert events() == []


def test_only_post_is_accepted(telegram, client):
    assert client.get(telegram.connection.webhook_path).status_code == 405


def test_a_press_is_answered_before_processing(telegram, live_server):
    telegram.hook_to(live_server)
    assert telegram.press(str(USER), "yes") == 200
    row = Inbox.objects.get(kind=INCOMING)
    assert [a["callback_query_id"] for a in telegram.state()["callback_answers"]] == [row.payload["callback_query_id"]]


def test_a_failed_answer_is_logged_and_the_event_kept(telegram, client, caplog):
    post(client, telegram, update(telegram, "press", data="yes"))
    row = Inbox.objects.get(kind=INCOMING)
    assert len(telegram.state()["callback_answers"]) == 1  # answered when the row was processed
    caplog.set_level(logging.WARNING)  # a second answer (a retried row) is refused by Telegram
    assert registry.get("telegram").fetch_for_inbox(row) is None
    assert f"inbox {row.pk}: the button press was not answered" in caplog.text
    assert str(USER) not in caplog.text


def test_messages_and_presses_reach_the_hub_end_to_end(telegram, live_server):
    telegram.hook_to(live_server)
    assert telegram.reply(str(USER), "Здравствуйте") == 200
    assert telegram.press(str(USER), "later") == 200
    rows = events()
    assert [(r.kind, r.payload["text"], r.payload["data"]) for r in rows] == [
        (INCOMING, "Здравствуйте", ""), (INCOMING, "", "later")]
    assert [r.event_key for r in rows] == [f"telegram:{u['update_id']}" for u in telegram.state()["updates"]]
