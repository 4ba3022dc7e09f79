"""What must hold when things half-fail: tokens kept, batches half-done, deals sent twice."""

from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from bookings.services import PreorderLineData, preorder_upsert
from hub.models import Connection, Contact, ExternalRef, Inbox, Outbox
from hub.services.catalog import product_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.inbox import inbox_receive
from hub.services.outbox import outbox_drain, outbox_replay
from hub.services.sales import LineData, purchase_record
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_a_token_refreshed_while_handling_a_rejected_event_is_kept(amo, amo_emulator):
    from connectors.amocrm.client import AmoClient

    AmoClient(amo).access_token()
    amo.refresh_from_db()
    amo.credentials = {**amo.credentials, "expires_at": 0}
    amo.save()
    with amo_emulator.app.lock:  # a contact made in the CRM with a phone we cannot accept
        amo_emulator.app.contacts[5] = {"id": 5, "first_name": "Х", "last_name": "", "updated_at": 1,
                                        "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "12"}]}]}
    row, _ = inbox_receive(source="amocrm:x", event_key="e1", kind="crm.contact.update", connection=amo,
                           payload={"entity": "contact", "action": "update", "id": "5", "data": {}})
    from hub.services.inbox import inbox_process

    assert inbox_process(row.pk).status == Inbox.Status.REJECTED
    stored = Connection.objects.get(pk=amo.pk).credentials
    assert stored["refresh_token"] in amo_emulator.app.refresh_tokens  # the live pair, not the used one


def test_a_half_failed_amocrm_batch_keeps_what_was_created(amo, amo_emulator, settings):
    settings.HUB_OUTBOX_BATCH = 100
    for n in range(60):
        Contact.objects.create(first_name=f"К{n}", phone=f"+7917{n:07d}")
    amo.settings["fields"] = {"children": "424242"}  # a field deleted in the CRM meanwhile
    amo.save()
    contacts = list(Contact.objects.order_by("pk"))
    Outbox.objects.bulk_create(Outbox(connection=amo, action="contact.upsert", target_kind="contact", target_id=c.pk)
                               for c in contacts)
    bad = contacts[-1]
    from hub.models import ContactRelation

    ContactRelation.objects.create(parent=bad, child=Contact.objects.create(first_name="Дитя", category="child"))
    outbox_drain()
    assert ExternalRef.objects.filter(connection=amo, kind="contact").count() == 50  # the first request landed
    assert Outbox.objects.filter(status="sent").count() == 50
    assert Outbox.objects.filter(status="dead").count() == 10
    amo.refresh_from_db()  # the drain stored the OAuth pair meanwhile: never save a stale copy
    amo.settings["fields"] = {}
    amo.save(update_fields=["settings"])
    outbox_replay(Outbox.objects.filter(status="dead").values_list("pk", flat=True))
    drain_outbox()
    assert len(amo_emulator.app.contacts) == 60  # no duplicates of the 50


def test_deals_sent_twice_update_the_same_deal_and_keep_the_managers_stage(amo, amo_emulator):
    contact, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79120000011"]))
    ticket = product_upsert(name="Билет", base_price="1000")
    purchase_record(purchased_at=timezone.now(), contact=contact,
                    lines=[LineData(product=ticket, price=Decimal(1000))])
    preorder, _ = preorder_upsert(contact=contact, lines=[PreorderLineData(ticket)])
    drain_outbox()
    assert len(amo_emulator.app.leads) == 2
    preorder_deal = next(d for d in amo_emulator.app.leads.values() if d["pipeline_id"] == 3004)
    preorder_deal["status_id"] = 30042  # the manager moved it on
    Outbox.objects.filter(action="purchase.created").update(status="pending", attempts=0)  # a resend
    preorder_upsert(preorder=preorder, contact=contact, lines=[PreorderLineData(ticket, Decimal(2))])
    drain_outbox()
    assert len(amo_emulator.app.leads) == 2
    preorder_deal = next(d for d in amo_emulator.app.leads.values() if d["pipeline_id"] == 3004)
    assert preorder_deal["status_id"] == 30042 and preorder_deal["price"] == 2000


def test_a_contact_deleted_in_bitrix24_is_created_again_without_failing_the_batch(b24, b24_emulator):
    first, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79120000021"]))
    second, _ = contact_upsert(ContactData(first_name="Борис", phones=["+79120000022"]))
    drain_outbox()
    ref = ExternalRef.objects.get(connection=b24, kind="contact", local_id=first.pk)
    with b24_emulator.app.lock:
        del b24_emulator.app.contacts[int(ref.external_id)]
    contact_upsert(ContactData(first_name="Анна", last_name="Новая", phones=["+79120000021"]))
    contact_upsert(ContactData(first_name="Борис", last_name="Новый", phones=["+79120000022"]))
    outbox_drain()
    assert Outbox.objects.get(target_id=second.pk, status__in=["sent"], attempts=1, action="contact.upsert",
                              payload__last_name="Новый")
    failed = Outbox.objects.get(target_id=first.pk, payload__last_name="Новая")
    assert (failed.status == "dead" and "Not found" in failed.last_error) or "NOT_FOUND" in failed.last_error
    ExternalRef.objects.filter(pk=ref.pk).update(missing_since=timezone.now())  # as the delete event marks it
    outbox_replay([failed.pk])
    drain_outbox()
    assert any(c.get("LAST_NAME") == "Новая" for c in b24_emulator.app.contacts.values())


def test_query_limit_exceeded_does_not_use_up_attempts(b24, b24_emulator, settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    requests.post(f"{b24_emulator.url}/_emulator/faults", json={"status": 503, "times": 30, "path_prefix": "/rest",
                                                                "body": {"error": "QUERY_LIMIT_EXCEEDED"}},
                  timeout=5)
    b24.settings["max_attempts"] = 2
    b24.save()
    contact_upsert(ContactData(first_name="Ия", phones=["+79120000031"]))
    for _ in range(20):
        outbox_drain()
    row = Outbox.objects.get()
    assert row.status != "dead" and row.attempts <= 2  # waits never counted against the row
