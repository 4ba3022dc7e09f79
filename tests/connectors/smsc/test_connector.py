"""SMSC's callback at the hub: a delivery status is a STATUS row, an incoming SMS an INCOMING
row, in the neutral shapes; windows-1251 (SMSC's default), UTF-8 and JSON bodies are read; a
redelivery adds nothing; anything else is refused with a reason and kept. Sample fields follow
SMSC's callback description (status: id, phone, status, time, ts, err; incoming: sms_id, phone,
mes, to, sent, time)."""

import json
from urllib.parse import urlencode

import pytest

from connectors.smsc.adapter import SmscChannel
from hub.models import Inbox
from mailings.ports import INCOMING, STATUS, OutgoingMessage

pytestmark = pytest.mark.django_db

STATUS_FIELDS = {"id": "m-1", "phone": "79161234567", "status": "1", "time": "1700000100", "ts": "1700000000",
                 "err": "0"}
INCOMING_FIELDS = {"sms_id": "5551", "phone": "79161234567", "mes": "СТОП", "to": "79990000000",
                   "sent": "1700000000", "time": "1700000001"}


def post(client, smsc, fields=None, raw=None, query="", content_type="application/x-www-form-urlencoded"):
    data = raw if raw is not None else urlencode(fields, encoding="cp1251")
    return client.post(smsc.connection.webhook_path + query, data, content_type=content_type)


def rows():
    return [(r.kind, r.event_key, r.payload) for r in Inbox.objects.exclude(status="rejected").order_by("pk")]


def test_a_delivery_status_is_one_row_and_a_redelivery_none(smsc, client):
    answer = post(client, smsc, STATUS_FIELDS)
    assert answer.status_code == 200 and answer.content.decode() == "OK"
    assert post(client, smsc, STATUS_FIELDS).status_code == 200
    assert rows() == [(STATUS, "smsc:status:m-1:1", {"provider_id": "m-1", "status": "delivered", "error": ""})]


def test_a_failure_carries_a_russian_reason_with_the_operators_error(smsc, client):
    post(client, smsc, {**STATUS_FIELDS, "status": "20", "err": "6"})
    post(client, smsc, {**STATUS_FIELDS, "status": "22", "err": "777"})
    post(client, smsc, {**STATUS_FIELDS, "status": "0"})
    assert rows() == [
        (STATUS, "smsc:status:m-1:20", {"provider_id": "m-1", "status": "failed",
                                        "error": "Не доставлено: доставка невозможна (абонент не в сети)."}),
        (STATUS, "smsc:status:m-1:22", {"provider_id": "m-1", "status": "failed",
                                        "error": "Не доставлено: неверный номер (код ошибки 777)."}),
        (STATUS, "smsc:status:m-1:0", {"provider_id": "m-1", "status": "sent", "error": ""}),
    ]


def test_an_incoming_sms_in_any_charset_or_json(smsc, client):
    assert post(client, smsc, INCOMING_FIELDS).content.decode() == "OK"  # windows-1251, SMSC's default
    assert post(client, smsc, INCOMING_FIELDS).status_code == 200  # again: nothing new
    utf8 = urlencode({**INCOMING_FIELDS, "sms_id": "5552", "mes": "Да, приду"})
    assert post(client, smsc, raw=utf8, query="?charset=utf-8").status_code == 200
    koi8 = urlencode({**INCOMING_FIELDS, "sms_id": "5553", "mes": "Нет"}, encoding="koi8-r")
    assert post(client, smsc, raw=koi8, query="?charset=koi8-r").status_code == 200
    as_json = json.dumps({**INCOMING_FIELDS, "sms_id": 5554, "mes": "10"}, ensure_ascii=False)
    assert post(client, smsc, raw=as_json, query="?fmt=3", content_type="application/json").status_code == 200
    payload = {"address_kind": "phone", "address": "+79161234567", "data": ""}
    assert rows() == [
        (INCOMING, "smsc:incoming:5551", {**payload, "text": "СТОП", "provider_id": "5551"}),
        (INCOMING, "smsc:incoming:5552", {**payload, "text": "Да, приду", "provider_id": "5552"}),
        (INCOMING, "smsc:incoming:5553", {**payload, "text": "Нет", "provider_id": "5553"}),
        (INCOMING, "smsc:incoming:5554", {**payload, "text": "10", "provider_id": "5554"}),
    ]


def test_garbage_is_refused_with_a_reason_and_kept(smsc, client):
    cases = [
        ({"foo": "bar"}, None, "", "Neither a delivery status"),
        ({**STATUS_FIELDS, "status": "x"}, None, "", "not a number"),
        ({**STATUS_FIELDS, "status": "99"}, None, "", "Unknown SMSC status code 99"),
        ({**STATUS_FIELDS, "id": ""}, None, "", "no readable message id"),
        ({**INCOMING_FIELDS, "phone": "12"}, None, "", "not a valid number"),
        (None, b"id=1&status=1%00", "", "NUL"),
        (None, b"id=1&status=1&mes=%FF", "?charset=utf-8", "not utf-8 form data"),
        (None, b"id=1&status=1", "?charset=nonsense", "Unknown charset"),
        (None, b"{not json", "", "valid JSON"),
    ]
    for fields, raw, query, reason in cases:
        refused = post(client, smsc, fields, raw=raw, query=query)
        assert refused.status_code == 400 and reason in refused.json()["error"], (fields, raw, refused.json())
        assert "79161234567" not in refused.json()["error"]  # reasons are logged: no phones in them
    assert not Inbox.objects.exclude(status="rejected").exists()
    assert Inbox.objects.filter(status="rejected").count() == len(cases)
    assert client.get(smsc.connection.webhook_path).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_end_to_end_status_and_reply_reach_the_inbox(smsc, live_server):
    provider_id = SmscChannel(smsc.connection).send(OutgoingMessage(key="m-7", address="+79161234567", text="Привет"))
    smsc.hook_to(live_server)
    assert smsc.deliver(provider_id) == 200
    assert smsc.deliver(provider_id) == 200  # a redelivery
    assert smsc.reply("+79161234567", "Спасибо, придём!") == 200
    assert rows() == [
        (STATUS, "smsc:status:m-7:1", {"provider_id": "m-7", "status": "delivered", "error": ""}),
        (INCOMING, "smsc:incoming:1", {"address_kind": "phone", "address": "+79161234567",
                                       "text": "Спасибо, придём!", "data": "", "provider_id": "1"}),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_side_for_the_shared_channel_tests(smsc, live_server):
    assert (smsc.system, smsc.channel, smsc.statuses, smsc.replies) == ("smsc", "sms", True, True)
    assert smsc.connection.system == "smsc" and smsc.connection.credentials["login"] == "hub"
    provider_id = SmscChannel(smsc.connection).send(OutgoingMessage(key="k", address="+79160000001", text="Тест"))
    assert smsc.sent() == [{"id": provider_id, "to": "+79160000001", "text": "Тест", "buttons": []}]
    smsc.hook_to(live_server)
    assert smsc.deliver(provider_id, "failed") == 200
    assert smsc.reply("+79160000001", "СТОП") == 200
    assert {r.kind: r.payload["provider_id"] for r in Inbox.objects.all()} == {STATUS: provider_id, INCOMING: "1"}
    assert Inbox.objects.get(kind=STATUS).payload["status"] == "failed"
