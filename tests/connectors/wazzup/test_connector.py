"""Wazzup's webhook at the hub: the test POST is answered 200, the CRM key is checked (a
refusal kept, nothing stored), each status is one neutral STATUS row and a redelivery adds
nothing, an incoming WhatsApp text is an INCOMING row, echoes are acknowledged, other items are
kept as ``wazzup.other``, and a body that is not Wazzup's shape is refused with the reason."""

import json

import pytest

from hub.models import Inbox
from hub.services.connections import connection_upsert
from mailings.ports import INCOMING, STATUS

pytestmark = pytest.mark.django_db

CRM_KEY, CHANNEL = "crm-secret", "e0629e11-0f67-4567-92a9-2237e91ec1b9"
MSG_ID = "5e0b4ba1-9a3f-4e0e-a0c6-0a3c2c4f1b11"


def status_item(status="delivered", message_id=MSG_ID, **extra):
    return {"messageId": message_id, "timestamp": "2026-11-24T10:00:00.000", "status": status, **extra}


def message_item(text="Да, приду", message_id="9f1c2d3e-0000-4000-8000-000000000001", **extra):
    return {"messageId": message_id, "channelId": CHANNEL, "chatType": "whatsapp", "chatId": "79011112233",
            "dateTime": "2026-11-24T10:00:00.000", "type": "text", "isEcho": False, "text": text,
            "status": "inbound", "contact": {"name": "Анна", "avatarUri": ""}, **extra}


@pytest.fixture
def connection():
    connection, _ = connection_upsert(name="Wazzup hooks", system="wazzup", base_url="http://127.0.0.1:9",
                                      credentials={"api_key": "k", "crm_key": CRM_KEY},
                                      settings={"channel_id": CHANNEL})
    return connection


def post(client, connection, body, authorization=f"Bearer {CRM_KEY}", raw=None):
    headers = {"Authorization": authorization} if authorization else {}
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(connection.webhook_path, data, content_type="application/json", headers=headers)


def rows(kind=None):
    return list(Inbox.objects.filter(**({"kind": kind} if kind else {})).exclude(status="rejected").order_by("pk"))


def test_the_test_post_is_answered_200(client, connection):
    assert post(client, connection, {"test": True}).status_code == 200
    assert post(client, connection, {"test": True}, authorization="").status_code == 200  # carries nothing
    assert not Inbox.objects.exists()


def test_a_status_is_one_neutral_status_row(client, connection):
    assert post(client, connection, {"statuses": [status_item()]}).status_code == 200
    [row] = rows()
    assert (row.kind, row.event_key, row.payload) == (
        STATUS, f"wazzup:status:{MSG_ID}:delivered", {"provider_id": MSG_ID, "status": "delivered", "error": ""})
    assert post(client, connection, {"statuses": [status_item()]}).status_code == 200  # redelivered
    assert len(rows()) == 1
    post(client, connection, {"statuses": [status_item("sent"), status_item("read")]})
    assert [r.payload["status"] for r in rows(STATUS)] == ["delivered", "sent", "read"]


@pytest.mark.parametrize(("error", "reason"), [
    ({"error": "BAD_CONTACT", "description": ""}, "На этом номере нет WhatsApp"),
    ({"error": "SPAM", "description": "Suspected spam"}, "WhatsApp счёл сообщение спамом (Suspected spam)"),
    ({"error": "SOMETHING_NEW"}, "WhatsApp не доставил сообщение (SOMETHING_NEW)"),
    (None, "WhatsApp не доставил сообщение"),
])
def test_an_error_status_is_failed_with_a_russian_reason(client, connection, error, reason):
    item = status_item("error", **({"error": error} if error else {}))
    assert post(client, connection, {"statuses": [item]}).status_code == 200
    [row] = rows(STATUS)
    assert row.payload == {"provider_id": MSG_ID, "status": "failed", "error": reason}


def test_an_incoming_text_is_an_incoming_row(client, connection):
    body = {"messages": [message_item()], "statuses": [status_item()]}  # both in one request
    assert post(client, connection, body).status_code == 200
    assert post(client, connection, body).status_code == 200
    incoming, status = rows(INCOMING), rows(STATUS)
    assert len(status) == 1 and len(incoming) == 1
    assert (incoming[0].event_key, incoming[0].payload) == (
        "wazzup:incoming:9f1c2d3e-0000-4000-8000-000000000001",
        {"address_kind": "phone", "address": "+79011112233", "text": "Да, приду", "data": "",
         "provider_id": "9f1c2d3e-0000-4000-8000-000000000001"})


def test_echoes_are_acknowledged_and_other_items_kept_aside(client, connection):
    echo = message_item(message_id="e1", isEcho=True, status="sent", authorName="Менеджер")
    assert post(client, connection, {"messages": [echo]}).status_code == 200
    assert rows() == []
    others = {"messages": [message_item(message_id="m1", type="image", text="", contentUri="https://x/y.jpg"),
                           message_item(message_id="m2", chatType="telegram"),
                           message_item(message_id="m3", channelId="11111111-1111-4111-8111-111111111111"),
                           message_item(message_id="m4", isEdited=True)],
              "statuses": [status_item("edited")]}
    assert post(client, connection, others).status_code == 200
    assert post(client, connection, {"createContact": {"responsibleUserId": "1", "name": "Анна"}}).status_code == 200
    assert [r.payload["type"] for r in rows()] == [
        "message/whatsapp/image", "message/telegram/text", "message/whatsapp/text", "message/whatsapp/text",
        "status/edited", "createContact"]
    assert {r.kind for r in rows()} == {"wazzup.other"}


def test_a_wrong_or_missing_key_is_403_and_nothing_is_stored(client, connection):
    body = {"statuses": [status_item()]}
    for authorization in ("", "Bearer wrong", CRM_KEY, f"Basic {CRM_KEY}"):
        refused = post(client, connection, body, authorization=authorization)
        assert refused.status_code == 403, authorization
        assert "crmKey" in refused.json()["error"]
    assert post(client, connection, None, authorization="", raw=b"{").status_code == 403  # not even read
    assert rows() == []
    assert Inbox.objects.filter(status="rejected").exists()
    assert client.get(connection.webhook_path).status_code == 405


def test_without_a_crm_key_any_post_is_read(client, connection):
    connection.credentials = {"api_key": "k"}
    connection.save()
    assert post(client, connection, {"statuses": [status_item()]}, authorization="").status_code == 200
    assert len(rows(STATUS)) == 1


@pytest.mark.parametrize(("body", "reason"), [
    ({"hello": "world"}, "Neither 'messages' nor 'statuses'"),
    ([{"test": True}], "JSON object"),
    ({"statuses": {"messageId": MSG_ID}}, "'statuses' must be a JSON array"),
    ({"messages": "text"}, "'messages' must be a JSON array"),
    ({"statuses": ["x"]}, "statuses[0] is not a JSON object"),
    ({"statuses": [{"status": "read"}]}, "statuses[0] has no messageId"),
    ({"statuses": [{"messageId": MSG_ID}]}, "statuses[0] has no status"),
    ({"messages": [message_item(), {"text": "no id"}]}, "messages[1] has no messageId"),
    ({"statuses": [status_item()] * 1001}, "Too many items"),
])
def test_garbage_is_400_with_a_reason(client, connection, body, reason):
    refused = post(client, connection, body)
    assert refused.status_code == 400 and reason in refused.json()["error"], refused.json()
    assert rows() == []


@pytest.mark.parametrize(("raw", "reason"), [(b"{", "valid JSON"), (b"\xff{}", "UTF-8"), (b"[NaN]", "NaN")])
def test_unreadable_bodies_are_400(client, connection, raw, reason):
    refused = post(client, connection, None, raw=raw)
    assert refused.status_code == 400 and reason in refused.json()["error"]
