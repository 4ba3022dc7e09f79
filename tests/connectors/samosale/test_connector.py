"""SamoSale's webhook at the hub: signed or refused (and kept), a redelivery is one event,
events the hub does not use are acknowledged; the adapter's errors read clearly."""

import json

import pytest

from connectors.base.webhooks import hmac_sha256
from connectors.samosale.adapter import SamosaleProgram
from hub.models import Inbox
from loyalty.ports import ProgramError
from tests.bonus_programs import bonus_side

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def samosale(db):
    with bonus_side("samosale") as side:
        yield side


def _post(client, side, body: dict, secret: str = "emu-secret"):
    raw = json.dumps(body).encode()
    return client.post(side.connection.webhook_path, raw, content_type="application/json",
                       headers={"X-Samosale-Signature": hmac_sha256(secret, raw)})


def test_webhooks_are_signed_deduplicated_and_unknown_events_acknowledged(samosale, client):
    samosale.join("+79161234567", 0)
    event = {"event_id": "e1", "event": "balance.changed", "client_id": 1001, "phone": "+79161234567",
             "balance": {"available": "0.00", "pending": "0.00"}, "operation_id": 1}
    forged = _post(client, samosale, event, secret="wrong")
    assert forged.status_code == 403
    assert Inbox.objects.get().status == "rejected"  # kept for audit
    assert _post(client, samosale, event).status_code == 200
    assert _post(client, samosale, event).status_code == 200
    assert Inbox.objects.filter(kind="bonus.client_changed").count() == 1
    assert _post(client, samosale, {**event, "event_id": "e2", "event": "client.updated"}).status_code == 200
    assert Inbox.objects.filter(kind="bonus.client_changed").count() == 1
    missing = _post(client, samosale, {"event": "balance.changed"})
    assert missing.status_code == 400 and "client_id" in missing.json()["error"]


def test_the_programs_refusals_become_messages_for_people(samosale):
    program = SamosaleProgram(samosale.connection)
    assert program.find_client("+79990000000") is None
    client_id = samosale.join("+79161234567", 10)
    client = program.find_client("+79161234567")
    assert client.id == client_id
    with pytest.raises(ProgramError) as refused:
        program.adjust(client, -50, "списание", "k-1")
    assert refused.value.message.startswith("В SamoSale недостаточно бонусов")
    assert program.balance(client).available == 10
    assert "принят" in program.check()
