"""Flows across connectors: CRM → hub → Lime, and limits changing under a running sync."""

import pytest
import requests

from hub.models import Contact, ExternalRef, Outbox
from hub.services.connections import connection_pull
from hub.services.contacts import ContactData, contact_upsert
from hub.services.outbox import outbox_drain


def _drain_all(rounds=50):
    sent = 0
    for _ in range(rounds):
        report = outbox_drain()
        sent += report.sent
        if not report.total and not Outbox.objects.filter(status__in=["pending", "failed"]).exists():
            break
    return sent


@pytest.mark.django_db(transaction=True)
def test_a_manager_edit_in_amocrm_reaches_lime(amo, amo_emulator, lime, lime_emulator, live_server, settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    connection_pull(lime, full=True)
    requests.post(f"{amo_emulator.url}/_emulator/faults",
                  json={"webhook_url": f"{live_server.url}{amo.webhook_path}"}, timeout=5)
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult" and c["phoneNumber"])
    contact = Contact.objects.get(pk=ExternalRef.objects.get(connection=lime, kind="contact",
                                                             external_id=str(client["id"])).local_id)
    _drain_all()  # the venue's contacts (and deals) go to amoCRM
    amo_emulator.app.wait_deliveries()
    amo_id = ExternalRef.objects.get(connection=amo, kind="contact", local_id=contact.pk).external_id
    requests.post(f"{amo_emulator.url}/_emulator/faults", timeout=5, json={"edit_contact": {
        "id": int(amo_id), "first_name": "Зинаида", "last_name": contact.last_name,
        "name": f"Зинаида {contact.last_name}"}})
    amo_emulator.app.wait_deliveries()
    _drain_all()
    assert lime_emulator.app.client_record(client["id"])["displayName"].split()[1] == "Зинаида"


@pytest.mark.django_db(transaction=True)
def test_a_contact_created_in_bitrix24_is_created_in_lime_once(b24, b24_emulator, lime, lime_emulator,
                                                              live_server, settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    lime.settings["create_contacts_in_lime"] = True
    lime.save()
    requests.post(f"{b24_emulator.url}/_emulator/faults",
                  json={"handler_url": f"{live_server.url}{b24.webhook_path}"}, timeout=5)
    url = f"{b24_emulator.url}{b24_emulator.app.state()['credentials']['webhook_url']}crm.contact.add"
    requests.post(url, timeout=5, json={"fields": {"NAME": "Тимур", "LAST_NAME": "Ким",
                                                   "PHONE": [{"VALUE": "+79031234567"}]}})
    b24_emulator.app.wait_deliveries()
    _drain_all()
    b24_emulator.app.wait_deliveries()
    _drain_all()
    in_lime = [c for c in lime_emulator.app.clients.values() if c["phoneNumber"] == "79031234567"]
    assert len(in_lime) == 1 and in_lime[0]["displayName"] == "Ким Тимур"


@pytest.mark.django_db
def test_amocrm_limit_lowered_mid_run_means_retries_and_nothing_lost(amo, amo_emulator, settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    settings.HUB_OUTBOX_BATCH = 50
    for n in range(300):
        contact_upsert(ContactData(first_name=f"К{n}", phones=[f"+7913{n:07d}"]))
    outbox_drain()
    requests.post(f"{amo_emulator.url}/_emulator/faults", json={"per_token_limit": 1, "block_after": 10**6},
                  timeout=5)
    amo_emulator.app.block_after = 10**6
    _drain_all(rounds=200)
    assert len(amo_emulator.app.contacts) == 300
    assert Outbox.objects.filter(status="sent").count() == 300
