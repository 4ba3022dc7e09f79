"""End to end over real HTTP both ways: the hub sends through the emulator, the emulator posts
the status report and a client's reply to the hub's live webhook URL, and Inbox rows appear."""

import pytest

from connectors.greenapi.adapter import GreenApiChannel
from hub.models import Inbox
from mailings.ports import INCOMING, STATUS, OutgoingMessage

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+79161234567"


def test_deliver_and_reply_reach_the_hub(greenapi, live_server):
    greenapi.hook_to(live_server)
    provider_id = GreenApiChannel(greenapi.connection).send(OutgoingMessage(key="m:1", address=PHONE, text="Привет"))
    assert greenapi.deliver(provider_id) == 200
    assert greenapi.deliver(provider_id) == 200  # a redelivery
    [status] = Inbox.objects.filter(kind=STATUS)
    assert status.payload == {"provider_id": provider_id, "status": "delivered", "error": ""}
    assert status.event_key == f"greenapi:status:{provider_id}:delivered"

    assert greenapi.reply(PHONE, "Стоп") == 200
    [incoming] = Inbox.objects.filter(kind=INCOMING)
    assert (incoming.payload["address"], incoming.payload["text"]) == (PHONE, "Стоп")


def test_a_number_without_whatsapp_reports_no_account(greenapi, live_server):
    greenapi.hook_to(live_server)
    greenapi.fault(no_whatsapp=[PHONE])
    provider_id = GreenApiChannel(greenapi.connection).send(OutgoingMessage(key="m:2", address=PHONE, text="Привет"))
    assert greenapi.deliver(provider_id) == 200
    [status] = Inbox.objects.filter(kind=STATUS)
    assert status.payload == {"provider_id": provider_id, "status": "failed", "error": "На этом номере нет WhatsApp"}


def test_the_side_drives_the_provider(greenapi, live_server):
    """The shared channel side: sent(), deliver() and reply() as the mailing tests use them."""
    assert (greenapi.system, greenapi.channel, greenapi.statuses, greenapi.replies) == ("greenapi", "whatsapp",
                                                                                       True, True)
    greenapi.hook_to(live_server)
    channel = GreenApiChannel(greenapi.connection)
    ids = [channel.send(OutgoingMessage(key=f"m:{n}", address=f"+7916000000{n}", text=f"Текст {n}")) for n in (1, 2)]
    assert greenapi.sent() == [{"id": ids[0], "to": "+79160000001", "text": "Текст 1", "buttons": []},
                               {"id": ids[1], "to": "+79160000002", "text": "Текст 2", "buttons": []}]
    assert greenapi.deliver(ids[0], "failed") == 200
    assert greenapi.reply("+79160000002", "Спасибо") == 200
    assert [(r.kind, r.payload.get("status") or r.payload.get("text")) for r in Inbox.objects.order_by("pk")] == [
        (STATUS, "failed"), (INCOMING, "Спасибо")]
