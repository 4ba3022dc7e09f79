import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

import pytest
import requests
from django.utils import timezone

from bookings.services import PreorderLineData, preorder_upsert
from hub.models import Contact, ExternalRef, Inbox, Outbox
from hub.services.catalog import product_upsert, service_point_get_or_create
from hub.services.contacts import ContactData, child_upsert, contact_upsert
from hub.services.sales import LineData, pass_record, purchase_record
from hub.sync import registry
from tests.helpers import drain_outbox, run_at_once

pytestmark = pytest.mark.django_db


def _their(emulator, contact):
    ref = ExternalRef.objects.get(kind="contact", local_id=contact.pk, connection__system="bitrix24")
    return emulator.app.contacts[int(ref.external_id)]


def test_contact_with_children_field_and_updates_without_duplicate_phones(b24, b24_emulator):
    b24.settings["fields"] = {"children": "UF_CRM_HUB_CHILDREN"}
    b24.save()
    parent, _ = contact_upsert(ContactData(first_name="Анна", last_name="Иванова", phones=["+79123456789"],
                                           birth_date=dt.date(1990, 5, 1)))
    child_upsert(parent, ContactData(first_name="Петя", birth_date=dt.date(2018, 1, 2)))
    drain_outbox()
    their = _their(b24_emulator, parent)
    assert (their["NAME"], their["LAST_NAME"], their["BIRTHDATE"]) == ("Анна", "Иванова", "1990-05-01")
    assert their["UF_CRM_HUB_CHILDREN"] == "Петя, 02.01.2018"
    contact_upsert(ContactData(first_name="Анна", last_name="Петрова", phones=["+79123456789"]))
    drain_outbox()
    their = _their(b24_emulator, parent)
    assert their["LAST_NAME"] == "Петрова" and [p["VALUE"] for p in their["PHONE"]] == ["+79123456789"]


def test_purchase_pass_and_preorder_deals_with_product_rows_in_batches(b24, b24_emulator):
    contact, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79120000001"]))
    adult = product_upsert(name="Взрослый билет", base_price="1500")
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[
        LineData(product=adult, price=Decimal(1500)),
        LineData(product=adult, quantity=Decimal(2), price=Decimal(1500))])
    pass_record(passed_at=timezone.now(), contact=contact, product=adult,
                service_point=service_point_get_or_create("Турникет 1"))
    preorder_upsert(contact=contact, lines=[PreorderLineData(adult, Decimal(3))])
    requests_before = b24_emulator.app.stats["requests"]
    drain_outbox()
    deals = sorted(b24_emulator.app.deals.values(), key=lambda d: d["ID"])
    assert [(d["CATEGORY_ID"], d["OPPORTUNITY"]) for d in deals] == [
        ("1", "1500.00"), ("1", "3000.00"), ("2", "0.00"), ("3", "4500.00")]
    assert all(d["CONTACT_ID"] == str(_their(b24_emulator, contact)["ID"]) for d in deals)
    assert b24_emulator.app.product_rows[deals[1]["ID"]][0]["QUANTITY"] == 2.0
    assert b24_emulator.app.stats["requests"] - requests_before <= 4  # batches, not a call per entity


@pytest.mark.django_db(transaction=True)
def test_event_from_the_portal_updates_the_hub_and_our_echo_is_dropped(b24, b24_emulator, live_server):
    requests.post(f"{b24_emulator.url}/_emulator/faults", json={"handler_url": f"{live_server.url}{b24.webhook_path}"},
                  timeout=5)
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    drain_outbox()
    b24_emulator.app.wait_deliveries()
    assert Inbox.objects.filter(kind="crm.contact.add", status="processed").count() == 1
    assert Outbox.objects.filter(status="pending").count() == 0  # our own write came back: no ping-pong
    their_id = _their(b24_emulator, contact)["ID"]
    requests.post(f"{b24_emulator.url}/_emulator/faults", timeout=5,
                  json={"edit_contact": {"ID": their_id, "LAST_NAME": "Смирнова"}})
    b24_emulator.app.wait_deliveries()
    contact.refresh_from_db()
    assert contact.last_name == "Смирнова"


def test_wrong_application_token_is_401_unknown_event_400(b24, client):
    wrong = client.post(b24.webhook_path, {"event": "ONCRMCONTACTUPDATE", "data[FIELDS][ID]": "1",
                                           "auth[application_token]": "nope"})
    assert wrong.status_code == 401
    token = b24.credentials["application_token"]
    bad = client.post(b24.webhook_path, {"event": "ONCRMCONTACTUPDATE", "data[FIELDS][ID]": "x",
                                         "auth[application_token]": token})
    assert bad.status_code == 400 and "numeric" in bad.json()["error"]
    assert set(Inbox.objects.values_list("status", flat=True)) == {"rejected"}
    lead = client.post(b24.webhook_path, {"event": "ONCRMLEADADD", "data[FIELDS][ID]": "5",
                                          "auth[application_token]": token})
    assert lead.status_code == 200 and Inbox.objects.filter(kind="crm.other").exists()


def test_query_limit_is_waited_out_not_dropped(b24, b24_emulator):
    requests.post(f"{b24_emulator.url}/_emulator/faults", json={"burst": 2, "drain": 2}, timeout=5)
    for n in range(120):
        Contact.objects.create(first_name=f"К{n}", phone=f"+7912000{n:04d}")
    Outbox.objects.bulk_create(Outbox(connection=b24, action="contact.upsert", target_kind="contact",
                                      target_id=c.pk) for c in Contact.objects.all())
    assert drain_outbox() == 120
    assert len(b24_emulator.app.contacts) == 120


def test_pipelines_and_stages_load_for_the_routing_table(b24):
    pipelines = registry.get("bitrix24").adapter(b24).list_pipelines()
    names = {p.name: [s.id for s in p.stages] for p in pipelines}
    assert names["Покупки Лайм"][0] == "C1:NEW" and names["Общая"][0] == "NEW"


def test_two_thousand_contacts_into_bitrix24_without_a_single_503(b24, b24_emulator, settings):
    settings.HUB_OUTBOX_BATCH = 500
    b24.settings["rate_limit"] = "20/second"  # the emulator's bucket drains 20/s here: same ratio, 10× faster
    b24.save()
    b24_emulator.app.drain = 20
    for n in range(2000):
        Contact.objects.create(first_name=f"Клиент{n}", phone=f"+7916{n:07d}")
    Outbox.objects.bulk_create(Outbox(connection=b24, action="contact.upsert", target_kind="contact",
                                      target_id=c.pk) for c in Contact.objects.all())
    assert drain_outbox() == 2000
    stats = b24_emulator.app.state()["stats"]
    assert len(b24_emulator.app.contacts) == 2000 and stats["503"] == 0 and stats["requests"] == 40


@pytest.mark.django_db(transaction=True)
def test_oauth_refresh_race_leaves_one_valid_token(b24_emulator, db):
    from connectors.bitrix24.client import Bitrix24Client
    from hub.models import Connection
    from hub.services.connections import connection_upsert

    token = b24_emulator.app.issue_oauth_token()
    creds = b24_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(name="B24 OAuth", system="bitrix24", base_url=b24_emulator.url, credentials={
        "client_id": creds["client_id"], "client_secret": creds["client_secret"], "oauth_server": b24_emulator.url,
        "access_token": token["access_token"], "refresh_token": token["refresh_token"]})
    requests.post(f"{b24_emulator.url}/_emulator/faults", json={"expire_tokens": True}, timeout=5)
    errors = run_at_once(4, lambda _: Bitrix24Client(Connection.objects.get(pk=connection.pk)).call(
        "crm.category.list"))
    assert errors == []
    stored = Connection.objects.get(pk=connection.pk).credentials
    assert stored["refresh_token"] in b24_emulator.app.refresh_tokens and len(b24_emulator.app.refresh_tokens) == 1


def test_tokens_in_event_bodies_are_not_kept(b24, client):
    token = b24.credentials["application_token"]
    body = urlencode({"event": "ONCRMCONTACTDELETE", "data[FIELDS][ID]": "9", "auth[application_token]": token,
                      "auth[access_token]": "live-access-token"})  # form-encoded, as Bitrix24 sends it
    client.post(b24.webhook_path, body, content_type="application/x-www-form-urlencoded")
    raw = Inbox.objects.get().raw_body
    assert "live-access-token" not in raw and token not in raw and "data%5BFIELDS%5D%5BID%5D=9" in raw
