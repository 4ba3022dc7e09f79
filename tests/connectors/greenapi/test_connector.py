"""Green-API's webhook at the hub: the token is checked (a refusal kept, nothing stored), a
status report is one neutral STATUS row and a redelivery adds nothing, an incoming text is an
INCOMING row, echoes are acknowledged, other notifications are kept as ``greenapi.other``, and
a body that is not a Green-API notification is refused with the reason. The bodies follow the
documented examples (OutgoingMessageStatus, incoming TextMessage)."""

import json

import pytest

from hub.models import Inbox
from hub.services.connections import connection_upsert
from mailings.ports import INCOMING, STATUS

pytestmark = pytest.mark.django_db

INSTANCE, HOOK_TOKEN = "1101000001", "hook-secret"
INSTANCE_DATA = {"idInstance": 1101000001, "wid": "79990000001@c.us", "typeInstance": "whatsapp"}


def status_body(status="delivered", message_id="BAE5F4886AFF4E1F", **extra):
    return {"typeWebhook": "outgoingMessageStatus", "chatId": "79001234567@c.us", "instanceData": INSTANCE_DATA,
            "timestamp": 1588091580, "idMessage": message_id, "status": status, "sendByApi": True, **extra}


def incoming_body(text="Да, приду", message_id="F7AEC1B7086ECDC7E6E45923F5EDB825", chat="79001234568@c.us",
                  message_data=None):
    return {"typeWebhook": "incomingMessageReceived", "instanceData": INSTANCE_DATA, "timestamp": 1588091580,
            "idMessage": message_id,
            "senderData": {"chatId": chat, "sender": "79001234568@c.us", "chatName": "Анна", "senderName": "Анна",
                           "senderContactName": ""},
            "messageData": message_data or {"typeMessage": "textMessage", "textMessageData": {"textMessage": text}}}


@pytest.fixture
def connection():
    connection, _ = connection_upsert(name="Green-API hooks", system="greenapi", base_url="http://127.0.0.1:9",
                                      credentials={"id_instance": INSTANCE, "api_token": "t",
                                                   "webhook_token": HOOK_TOKEN})
    return connection


def post(client, connection, body, authorization=f"Bearer {HOOK_TOKEN}", raw=None):
    headers = {"Authorization": authorization} if authorization else {}
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(connection.webhook_path, data, content_type="application/json", headers=headers)


def rows(kind=None):
    return list(Inbox.objects.filter(**({"kind": kind} if kind else {})).exclude(status="rejected").order_by("pk"))


def test_a_status_report_is_one_neutral_status_row(client, connection):
    answer = post(client, connection, status_body())
    assert answer.status_code == 200
    [row] = rows()
    assert (row.kind, row.event_key, row.payload) == (
        STATUS, "greenapi:status:BAE5F4886AFF4E1F:delivered",
        {"provider_id": "BAE5F4886AFF4E1F", "status": "delivered", "error": ""})
    assert post(client, connection, status_body()).status_code == 200  # Green-API delivers again
    assert len(rows()) == 1
    post(client, connection, status_body("read"))
    assert [r.payload["status"] for r in rows(STATUS)] == ["delivered", "read"]


@pytest.mark.parametrize(("status", "reason"), [
    ("noAccount", "На этом номере нет WhatsApp"),
    ("failed", "WhatsApp не смог отправить сообщение (SWE004: limit)"),
    ("yellowCard", "yellowCard"),
])
def test_failures_carry_a_russian_reason(client, connection, status, reason):
    extra = {"description": "SWE004: limit"} if status == "failed" else {}
    assert post(client, connection, status_body(status, **extra)).status_code == 200
    [row] = rows(STATUS)
    assert row.payload["status"] == "failed" and reason in row.payload["error"]


def test_an_incoming_text_is_an_incoming_row(client, connection):
    assert post(client, connection, incoming_body()).status_code == 200
    assert post(client, connection, incoming_body()).status_code == 200  # duplicates happen
    [row] = rows()
    assert (row.kind, row.event_key, row.payload) == (
        INCOMING, "greenapi:incoming:F7AEC1B7086ECDC7E6E45923F5EDB825",
        {"address_kind": "phone", "address": "+79001234568", "text": "Да, приду", "data": "",
         "provider_id": "F7AEC1B7086ECDC7E6E45923F5EDB825"})
    extended = {"typeMessage": "extendedTextMessage",
                "extendedTextMessageData": {"text": "https://example.com", "description": "", "title": ""}}
    post(client, connection, incoming_body(message_id="E2", message_data=extended))
    assert rows(INCOMING)[-1].payload["text"] == "https://example.com"


def test_echoes_are_acknowledged_and_other_notifications_kept_aside(client, connection):
    echo = {**incoming_body(), "typeWebhook": "outgoingAPIMessageReceived"}
    assert post(client, connection, echo).status_code == 200
    assert rows() == []
    image = {"typeMessage": "imageMessage", "fileMessageData": {"downloadUrl": "https://x/y.jpg", "caption": ""}}
    others = [
        incoming_body(message_id="IMG1", message_data=image),
        incoming_body(message_id="GRP1", chat="120363043968066561@g.us"),
        {"typeWebhook": "stateInstanceChanged", "instanceData": INSTANCE_DATA, "timestamp": 1,
         "stateInstance": "notAuthorized"},
        status_body("noActiveSession", message_id="S1"),
    ]
    for body in others:
        assert post(client, connection, body).status_code == 200
    assert [r.payload["type"] for r in rows()] == [
        "incomingMessageReceived/imageMessage", "incomingMessageReceived/textMessage", "stateInstanceChanged",
        "outgoingMessageStatus/noActiveSession"]
    assert {r.kind for r in rows()} == {"greenapi.other"}


def test_a_wrong_or_missing_token_is_403_and_nothing_is_stored(client, connection):
    for authorization in ("", "Bearer wrong", "Basic aGVsbG8=", f"Bearer {HOOK_TOKEN}x"):
        refused = post(client, connection, status_body(), authorization=authorization)
        assert refused.status_code == 403, authorization
        assert "token" in refused.json()["error"]
    assert rows() == []
    assert Inbox.objects.filter(status="rejected").exists()  # kept for audit
    assert post(client, connection, status_body(), authorization=HOOK_TOKEN).status_code == 200  # bare token
    assert client.get(connection.webhook_path).status_code == 405


def test_without_a_configured_token_any_post_is_read(client, connection):
    connection.credentials = {"id_instance": INSTANCE, "api_token": "t"}
    connection.save()
    assert post(client, connection, status_body(), authorization="").status_code == 200
    assert len(rows(STATUS)) == 1


@pytest.mark.parametrize(("body", "reason"), [
    ({"hello": "world"}, "typeWebhook"),
    ([status_body()], "JSON object"),
    ({**status_body(), "idMessage": ""}, "idMessage"),
    ({k: v for k, v in status_body().items() if k != "status"}, "no status"),
    ({**incoming_body(), "senderData": "x"}, "senderData"),
    ({k: v for k, v in incoming_body().items() if k != "messageData"}, "messageData"),
    ({**status_body(), "instanceData": {**INSTANCE_DATA, "idInstance": 42}}, "another Green-API instance"),
])
def test_garbage_is_400_with_a_reason(client, connection, body, reason):
    refused = post(client, connection, body)
    assert refused.status_code == 400 and reason in refused.json()["error"], refused.json()
    assert rows() == []


@pytest.mark.parametrize(("raw", "reason"), [(b"{", "valid JSON"), (b"\xff{}", "UTF-8"), (b"[NaN]", "NaN")])
def test_unreadable_bodies_are_400(client, connection, raw, reason):
    refused = post(client, connection, None, raw=raw)
    assert refused.status_code == 400 and reason in refused.json()["error"]
