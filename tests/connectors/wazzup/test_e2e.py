"""End to end over real HTTP both ways: the hub sends through the emulator, the emulator posts
the status report and a client's reply to the hub's live webhook URL, and Inbox rows appear."""

import pytest
import requests

from connectors.wazzup.adapter import WazzupChannel
from hub.models import Inbox
from mailings.ports import INCOMING, STATUS, OutgoingMessage

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = "+79161234567"


def test_deliver_and_reply_reach_the_hub(wazzup, live_server):
    wazzup.hook_to(live_server)
    provider_id = WazzupChannel(wazzup.connection).send(OutgoingMessage(key="m:1", address=PHONE, text="Привет"))
    assert wazzup.deliver(provider_id) == 200
    assert wazzup.deliver(provider_id) == 200  # a redelivery
    [status] = Inbox.objects.filter(kind=STATUS)
    assert status.payload == {"provider_id": provider_id, "status": "delivered", "error": ""}
    assert status.event_key == f"wazzup:status:{provider_id}:delivered"

    assert wazzup.reply(PHONE, "Стоп") == 200
    [incoming] = Inbox.objects.filter(kind=INCOMING)
    assert (incoming.payload["address"], incoming.payload["text"]) == (PHONE, "Стоп")


def test_a_number_without_whatsapp_reports_bad_contact(wazzup, live_server):
    wazzup.hook_to(live_server)
    wazzup.fault(no_whatsapp=[PHONE])
    provider_id = WazzupChannel(wazzup.connection).send(OutgoingMessage(key="m:2", address=PHONE, text="Привет"))
    assert wazzup.deliver(provider_id) == 200
    [status] = Inbox.objects.filter(kind=STATUS)
    assert status.payload["status"] == "failed"
    assert status.payload["error"].startswith("На этом номере нет WhatsApp")


def test_wazzup_accepts_the_hub_as_its_webhook_url(wazzup, live_server):
    """PATCH /v3/webhooks sends {"test": true} to the hub first, with the CRM key."""
    answer = requests.patch(f"{wazzup.url}/v3/webhooks", headers={"Authorization": "Bearer emu-api-key"}, timeout=10,
                            json={"webhooksUri": f"{live_server.url}{wazzup.connection.webhook_path}",
                                  "subscriptions": {"messagesAndStatuses": True}})
    assert answer.status_code == 200
    assert not Inbox.objects.exists()


def test_the_side_drives_the_provider(wazzup, live_server):
    """The shared channel side: sent(), deliver() and reply() as the mailing tests use them."""
    assert (wazzup.system, wazzup.channel, wazzup.statuses, wazzup.replies) == ("wazzup", "whatsapp", True, True)
    wazzup.hook_to(live_server)
    channel = WazzupChannel(wazzup.connection)
    ids = [channel.send(OutgoingMessage(key=f"m:{n}", address=f"+7916000000{n}", text=f"Текст {n}")) for n in (1, 2)]
    assert wazzup.sent() == [{"id": ids[0], "to": "+79160000001", "text": "Текст 1", "buttons": []},
                             {"id": ids[1], "to": "+79160000002", "text": "Текст 2", "buttons": []}]
    assert wazzup.deliver(ids[0], "failed") == 200
    assert wazzup.reply("+79160000002", "Спасибо") == 200
    assert [(r.kind, r.payload.get("status") or r.payload.get("text")) for r in Inbox.objects.order_by("pk")] == [
        (STATUS, "failed"), (INCOMING, "Спасибо")]
