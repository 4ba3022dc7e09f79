import datetime as dt
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from bookings.services import PreorderLineData, preorder_upsert
from connectors.amocrm.client import AmoClient
from connectors.base.emulator import EmulatorProcess
from hub.models import Connection, Contact, ExternalRef, Inbox, Outbox
from hub.services.catalog import product_upsert, service_point_get_or_create
from hub.services.connections import connection_upsert
from hub.services.contacts import ContactData, child_upsert, contact_upsert
from hub.services.sales import LineData, pass_record, purchase_record
from tests.helpers import drain_outbox, run_at_once

pytestmark = pytest.mark.django_db


def _their(amo_emulator, contact):
    ref = ExternalRef.objects.get(kind="contact", local_id=contact.pk, connection__system="amocrm")
    return amo_emulator.app.contacts[int(ref.external_id)]


def test_contact_goes_to_amocrm_with_phones_and_card_fields(amo, amo_emulator):
    amo.settings["fields"] = {"children": "990001", "last_pass": "990002"}
    amo.save()
    amo_emulator.app.custom_fields["contacts"] += [{"id": 990001, "name": "Дети", "type": "textarea"},
                                                   {"id": 990002, "name": "Последний проход", "type": "text"}]
    parent, _ = contact_upsert(ContactData(first_name="Анна", last_name="Иванова", phones=["+79123456789"]))
    child_upsert(parent, ContactData(first_name="Петя", birth_date=dt.date(2018, 1, 2)))
    assert drain_outbox() >= 1
    their = _their(amo_emulator, parent)
    fields = {f.get("field_code") or f.get("field_id"): [v["value"] for v in f["values"]]
              for f in their["custom_fields_values"]}
    assert their["name"] == "Анна Иванова" and fields["PHONE"] == ["+79123456789"]
    assert fields[990001] == ["Петя, 02.01.2018"]


def test_purchase_becomes_one_deal_per_ticket_line_in_the_routed_pipeline(amo, amo_emulator):
    contact, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79120000001"]))
    adult = product_upsert(name="Взрослый билет", base_price="1500")
    kid = product_upsert(name="Детский билет", base_price="900")
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[
        LineData(product=adult, price=Decimal(1500)), LineData(product=kid, quantity=Decimal(2), price=Decimal(900))])
    drain_outbox()
    leads = sorted(amo_emulator.app.leads.values(), key=lambda d: d["id"])
    assert [(d["pipeline_id"], d["status_id"], d["price"]) for d in leads] == [(3002, 30020, 1500), (3002, 30020, 1800)]
    assert all(d["_embedded"]["contacts"][0]["id"] == _their(amo_emulator, contact)["id"] for d in leads)
    assert ExternalRef.objects.filter(kind="purchase_line").count() == 2


def test_per_receipt_setting_pass_and_preorder_deals(amo, amo_emulator):
    amo.settings["purchase_deal_per"] = "receipt"
    amo.save()
    contact, _ = contact_upsert(ContactData(first_name="Ира", phones=["+79120000002"]))
    ticket = product_upsert(name="Билет", base_price="1000")
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[
        LineData(product=ticket, price=Decimal(1000)), LineData(product=ticket, price=Decimal(1000))])
    pass_record(passed_at=timezone.now(), contact=contact, product=ticket,
                service_point=service_point_get_or_create("Горка"))
    preorder, _ = preorder_upsert(contact=contact, lines=[PreorderLineData(ticket, Decimal(3))])
    drain_outbox()
    by_pipeline = {}
    for deal in amo_emulator.app.leads.values():
        by_pipeline.setdefault(deal["pipeline_id"], []).append(deal)
    assert [d["price"] for d in by_pipeline[3002]] == [2000]
    assert "Горка" in by_pipeline[3003][0]["name"]
    assert by_pipeline[3004][0]["price"] == 3000
    preorder_upsert(preorder=preorder, contact=contact, lines=[PreorderLineData(ticket, Decimal(4))])
    drain_outbox()
    assert len([d for d in amo_emulator.app.leads.values() if d["pipeline_id"] == 3004]) == 1
    assert [d["price"] for d in amo_emulator.app.leads.values() if d["pipeline_id"] == 3004] == [4000]


def test_unrouted_event_kinds_are_not_queued(amo):
    amo.settings["routes"] = {}
    amo.save()
    contact, _ = contact_upsert(ContactData(first_name="Лев", phones=["+79120000003"]))
    pass_record(passed_at=timezone.now(), contact=contact)
    assert list(Outbox.objects.values_list("action", flat=True)) == ["contact.upsert"]


@pytest.mark.django_db(transaction=True)
def test_manager_edit_in_amocrm_reaches_the_hub_and_our_own_echo_is_dropped(amo, amo_emulator, live_server):
    url = f"{live_server.url}{amo.webhook_path}"
    requests.post(f"{amo_emulator.url}/_emulator/faults", json={"webhook_url": url}, timeout=5)
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    drain_outbox()
    amo_emulator.app.wait_deliveries()  # amoCRM reports our own write back…
    assert Inbox.objects.filter(kind="crm.contact.add", status="processed").count() == 1
    contact.refresh_from_db()
    assert contact.first_name == "Анна" and Outbox.objects.filter(status="pending").count() == 0  # …dropped
    their_id = _their(amo_emulator, contact)["id"]
    requests.post(f"{amo_emulator.url}/_emulator/faults", timeout=5, json={"edit_contact": {
        "id": their_id, "first_name": "Анна", "last_name": "Смирнова", "name": "Анна Смирнова"}})
    amo_emulator.app.wait_deliveries()
    contact.refresh_from_db()
    assert contact.last_name == "Смирнова"


def test_wrong_account_is_401_malformed_is_400_and_unrouted_events_are_kept(amo, client):
    wrong = client.post(amo.webhook_path, {"contacts[update][0][id]": "1", "account[subdomain]": "evil"})
    assert wrong.status_code == 401
    bad = client.post(amo.webhook_path, {"account[subdomain]": "demo", "contacts[update][0][id]": "abc"})
    assert bad.status_code == 400 and "not a number" in bad.json()["error"]
    assert set(Inbox.objects.values_list("status", flat=True)) == {"rejected"}
    assert Inbox.objects.filter(raw_body__contains="evil").exists()
    # A note or a company is not ours to act on, but it is kept and answered 200 (amoCRM
    # switches off a hook that keeps failing).
    note = client.post(amo.webhook_path, {"account[subdomain]": "demo", "contacts[note][0][note][text]": "x"})
    assert note.status_code == 200 and Inbox.objects.filter(kind="crm.other").exists()


@pytest.mark.django_db(transaction=True)
def test_four_workers_refreshing_at_once_leave_one_valid_pair(amo, amo_emulator):
    AmoClient(amo).access_token()  # authorization code → first pair
    amo.refresh_from_db()
    amo.credentials = {**amo.credentials, "expires_at": 0}  # expired: everybody wants to refresh
    amo.save()
    errors = run_at_once(4, lambda _: AmoClient(Connection.objects.get(pk=amo.pk)).get("/api/v4/leads/pipelines"))
    assert errors == []
    stored = Connection.objects.get(pk=amo.pk).credentials
    assert stored["refresh_token"] in amo_emulator.app.refresh_tokens  # the stored pair is the live one
    assert len(amo_emulator.app.used_refresh_tokens) == 1  # refreshed exactly once


def test_two_thousand_contacts_sync_without_a_single_429(db, settings):
    """The emulator runs in its own process here, as amoCRM would: in-process, our own GIL
    and GC pauses would shift its arrival clock and blur what is being measured."""
    settings.HUB_OUTBOX_BATCH = 200
    with EmulatorProcess("amocrm", "--long-lived-token", "t") as emulator:
        amo, _ = connection_upsert(name="amoCRM", system="amocrm", base_url=emulator.url,
                                   credentials={"long_lived_token": "t"}, settings={"subdomain": "demo"})
        for n in range(2000):
            Contact.objects.create(first_name=f"Клиент{n}", phone=f"+7912{n:07d}")
        Outbox.objects.bulk_create(Outbox(connection=amo, action="contact.upsert", target_kind="contact",
                                          target_id=c.pk) for c in Contact.objects.all())
        assert drain_outbox() == 2000
        state = emulator.state()
    stats = state["stats"]
    assert len(state["contacts"]) == 2000 and stats["429"] == 0 and stats["403"] == 0
    assert stats["requests"] == 40  # 50 contacts a request


def test_children_are_on_the_parents_card_not_crm_contacts_of_their_own(amo, amo_emulator):
    parent, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456780"]))
    drain_outbox()
    child_upsert(parent, ContactData(first_name="Соня", birth_date=dt.date(2019, 3, 4)))
    assert not Outbox.objects.filter(target_id__in=Contact.objects.filter(category="child").values("pk")).exists()
    assert Outbox.objects.filter(target_id=parent.pk, status="pending").exists()  # the card changed
