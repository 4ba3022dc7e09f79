"""SMS.ru's status callback at the hub: ``data[]`` entries become STATUS inbox rows in the
neutral shape, answered ``100``; a redelivery adds nothing; the ``hash`` is checked when sent;
anything else is refused with a reason and kept. The sample entries follow SMS.ru's published
handler (``sms_status\\n<sms_id>\\n<code>\\n<unix time>``)."""

import hashlib
from urllib.parse import urlencode

import pytest
import requests

from connectors.smsru.adapter import SmsruChannel
from hub.models import Inbox
from mailings.ports import STATUS, OutgoingMessage

pytestmark = pytest.mark.django_db

SMS_ID = "000000-10000000"
API_ID = "EMU-API-ID"


def entry(sms_id=SMS_ID, code=103, when=1700000000):
    return f"sms_status\n{sms_id}\n{code}\n{when}"


def body(*entries, signed=True, api_id=API_ID, numbered=True):
    fields = [(f"data[{n}]" if numbered else "data[]", e) for n, e in enumerate(entries)]
    if signed:
        fields.append(("hash", hashlib.sha256((api_id + "".join(entries)).encode()).hexdigest()))
    return urlencode(fields)


def post(client, smsru, data, content_type="application/x-www-form-urlencoded"):
    return client.post(smsru.connection.webhook_path, data, content_type=content_type)


def rows():
    return [(r.kind, r.event_key, r.payload) for r in Inbox.objects.exclude(status="rejected").order_by("pk")]


def test_a_status_is_one_inbox_row_and_the_answer_is_100(smsru, client):
    answer = post(client, smsru, body(entry()))
    assert answer.status_code == 200 and answer.content.decode() == "100"
    assert answer["Content-Type"].startswith("text/plain")
    assert rows() == [(STATUS, f"smsru:status:{SMS_ID}:103",
                       {"provider_id": SMS_ID, "status": "delivered", "error": ""})]
    again = post(client, smsru, body(entry()))  # SMS.ru delivers again
    assert again.status_code == 200 and again.content.decode() == "100"
    assert Inbox.objects.count() == 1


def test_failures_carry_a_russian_reason_and_each_code_is_its_own_event(smsru, client):
    entries = [entry(code=102), entry(code=104), "callcheck_status\n201937-1000000\n401\n1700000000",
               entry("000000-10000001", 108), entry("000000-10000001", 108)]
    assert post(client, smsru, body(*entries, numbered=False)).content.decode() == "100"
    assert rows() == [
        (STATUS, f"smsru:status:{SMS_ID}:102", {"provider_id": SMS_ID, "status": "sent", "error": ""}),
        (STATUS, f"smsru:status:{SMS_ID}:104", {"provider_id": SMS_ID, "status": "failed",
                                                 "error": "Не доставлено: истёк срок жизни сообщения "
                                                          "(телефон был недоступен)."}),
        (STATUS, "smsru:status:000000-10000001:108", {"provider_id": "000000-10000001", "status": "failed",
                                                      "error": "Не доставлено: отклонено."}),
    ]


def test_an_unsigned_callback_is_accepted_and_a_wrong_hash_refused(smsru, client):
    assert post(client, smsru, body(entry(), signed=False)).status_code == 200
    refused = post(client, smsru, body(entry(code=104), api_id="someone-else"))
    assert refused.status_code == 403 and "hash" in refused.json()["error"].lower()
    assert [r.kind for r in Inbox.objects.exclude(status="rejected")] == [STATUS]
    assert Inbox.objects.get(status="rejected").raw_body.startswith("data")


def test_a_multipart_form_is_read_too(smsru, client):
    data = {"data[]": [entry()], "hash": hashlib.sha256((API_ID + entry()).encode()).hexdigest()}
    assert client.post(smsru.connection.webhook_path, data).content.decode() == "100"  # multipart by default
    assert len(rows()) == 1


def test_garbage_is_refused_with_a_reason_and_kept(smsru, client):
    cases = [
        (b"", "No data[]"),
        (body("sms_status\n" + SMS_ID, signed=False).encode(), "lacks the message id"),
        (body(entry(code="abc"), signed=False).encode(), "not a number"),
        (body(entry(code=999), signed=False).encode(), "unknown SMS.ru status code 999"),
        (body(entry(sms_id=""), signed=False).encode(), "no readable message id"),
        (b"data%5B0%5D=%FF%FE", "UTF-8"),
        (b"data%5B0%5D=sms_status%0A1%00%0A103", "NUL"),
        (b'{"data": ["sms_status"]}', "No data[]"),
    ]
    for raw, reason in cases:
        refused = post(client, smsru, raw)
        assert refused.status_code == 400 and reason in refused.json()["error"], (raw, refused.json())
    assert not Inbox.objects.exclude(status="rejected").exists()
    assert Inbox.objects.filter(status="rejected").count() == len(cases)
    assert client.get(smsru.connection.webhook_path).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_end_to_end_the_emulators_callback_reaches_the_inbox(smsru, live_server):
    provider_id = SmsruChannel(smsru.connection).send(OutgoingMessage(key="m-1", address="+79161234567", text="Привет"))
    smsru.hook_to(live_server)
    assert smsru.deliver(provider_id) == 200
    assert smsru.deliver(provider_id, "failed") == 200
    answer = requests.post(f"{smsru.url}/_emulator/deliver", json={"id": provider_id, "status": "delivered"},
                           timeout=15).json()
    assert answer == {"status": 200, "body": "100"}  # a redelivery: answered, nothing new
    got = {(r.event_key, r.payload["status"]) for r in Inbox.objects.filter(kind=STATUS)}
    assert got == {(f"smsru:status:{provider_id}:103", "delivered"), (f"smsru:status:{provider_id}:104", "failed")}


@pytest.mark.django_db(transaction=True)
def test_the_side_for_the_shared_channel_tests(smsru, live_server):
    assert (smsru.system, smsru.channel, smsru.statuses, smsru.replies) == ("smsru", "sms", True, False)
    assert smsru.connection.system == "smsru" and smsru.connection.credentials["api_id"] == API_ID
    provider_id = SmsruChannel(smsru.connection).send(OutgoingMessage(key="k", address="+79160000001", text="Тест"))
    assert smsru.sent() == [{"id": provider_id, "to": "+79160000001", "text": "Тест", "buttons": []}]
    smsru.hook_to(live_server)
    assert smsru.deliver(provider_id, "failed") == 200
    assert Inbox.objects.get(kind=STATUS).payload["status"] == "failed"
    with pytest.raises(NotImplementedError):
        smsru.reply("+79160000001", "СТОП")
