import datetime as dt
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from bookings.models import Preorder
from bookings.services import PreorderLineData, preorder_cancel, preorder_upsert
from hub.models import (
    Card,
    Connection,
    Contact,
    ContactRelation,
    ExternalRef,
    Inbox,
    Outbox,
    Pass,
    Product,
    Purchase,
    PurchaseLine,
)
from hub.services.connections import connection_pull
from hub.services.contacts import ContactData, contact_upsert
from hub.services.outbox import outbox_drain
from hub.sync.errors import SyncError

pytestmark = pytest.mark.django_db


def _knob(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def _lime_counts(app):
    with app.lock:
        clients = [c for c in app.clients.values() if not c.get("deleted")]
        return {
            "clients": len(clients),
            "children": sum(c["category"] == "child" for c in clients),
            "links": sum(len(c["familyLinks"]) for c in clients),
            "checks": len(app.checks),
            "entries": sum(len(c["entries"]) for c in app.checks.values()),
            "passes": len(app.passes),
            "cards": sum(len(c["cards"]) for c in clients),
        }


def _hub_counts(connection):
    contacts = Contact.objects.filter(merged_into__isnull=True)
    return {
        "clients": contacts.count(),
        "children": contacts.filter(category="child").count(),
        "links": ContactRelation.objects.count(),
        "checks": Purchase.objects.count(),
        "entries": PurchaseLine.objects.count(),
        "passes": Pass.objects.count(),
        "cards": Card.objects.count(),
    }


def test_full_backfill_equals_the_emulator_and_a_second_run_changes_nothing(lime, lime_emulator):
    report = connection_pull(lime, full=True)
    expected = _lime_counts(lime_emulator.app)
    assert _hub_counts(lime) == expected
    assert report.counts["clients"] == expected["clients"] and report.counts["passes"] == expected["passes"]
    # Every receipt line is its own PurchaseLine with the right money (kopecks → roubles).
    check = next(iter(lime_emulator.app.checks.values()))
    purchase = Purchase.objects.get(number=str(check["id"]))
    assert purchase.lines.count() == len(check["entries"])
    assert purchase.total == sum(Decimal(e["price"] * e["count"]) / 100 for e in check["entries"])
    # Children are contacts of their own, linked with the relation type and birth date.
    parent = next(c for c in lime_emulator.app.clients.values() if c["familyLinks"])
    link = parent["familyLinks"][0]
    child_ref = ExternalRef.objects.get(connection=lime, kind="contact", external_id=str(link["clientId"]))
    child = Contact.objects.get(pk=child_ref.local_id)
    assert child.category == "child"
    assert str(child.birth_date) == lime_emulator.app.clients[link["clientId"]]["birthDate"]
    assert child.parent_links.get().relation != ""
    # Passes: holder and payer.
    kid_pass = next((p for p in lime_emulator.app.passes.values() if p["payerId"] != p["userId"]), None)
    if kid_pass:
        row = Pass.objects.get(pk=ExternalRef.objects.get(kind="pass", external_id=str(kid_pass["id"])).local_id)
        assert row.contact.category == "child" and row.payer.category == "adult"
    assert Product.objects.filter(kind="deposit").exists()

    before = _hub_counts(lime)
    again = connection_pull(lime, full=True)
    assert _hub_counts(lime) == before
    assert not [k for k in again.counts if "unchanged" not in k]
    assert not Outbox.objects.filter(connection=lime).exists()  # nothing echoed back to Lime


def test_client_edited_in_lime_is_updated_and_a_vanished_one_is_marked_not_deleted(lime, lime_emulator):
    connection_pull(lime, full=True)
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult")
    _knob(lime_emulator, edit_client={"id": client["id"], "displayName": "Новикова Ольга Петровна"})
    report = connection_pull(lime)
    assert report.counts.get("clients") == 1
    ref = ExternalRef.objects.get(connection=lime, kind="contact", external_id=str(client["id"]))
    contact = Contact.objects.get(pk=ref.local_id)
    assert (contact.last_name, contact.first_name, contact.middle_name) == ("Новикова", "Ольга", "Петровна")

    _knob(lime_emulator, delete_client=client["id"])
    report = connection_pull(lime, full=True)
    ref.refresh_from_db()
    assert ref.missing_since is not None and report.counts["clients missing in Lime"] == 1
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_new_activity_arrives_incrementally(lime, lime_emulator):
    connection_pull(lime, full=True)
    before = _hub_counts(lime)
    _knob(lime_emulator, generate={"clients": 2, "checks": 3, "passes": 4})
    report = connection_pull(lime)
    assert (report.counts.get("checks"), report.counts.get("passes")) == (3, 4)
    assert _hub_counts(lime)["checks"] == before["checks"] + 3
    assert _hub_counts(lime) == _lime_counts(lime_emulator.app)


def test_hub_edit_reaches_lime_and_its_echo_changes_nothing(lime, lime_emulator):
    connection_pull(lime, full=True)
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult" and c["phoneNumber"])
    ref = ExternalRef.objects.get(connection=lime, kind="contact", external_id=str(client["id"]))
    contact = Contact.objects.get(pk=ref.local_id)
    other, _ = Connection.objects.get_or_create(name="CRM", system="webhook")
    contact_upsert(ContactData(first_name="Светлана", phones=[contact.phone]), connection=other, external_id="crm-1")
    assert outbox_drain().sent == 1
    assert lime_emulator.app.client_record(client["id"])["displayName"].split()[1] == "Светлана"
    updated_at = Contact.objects.get(pk=contact.pk).updated_at
    report = connection_pull(lime)
    assert report.counts.get("clients") == 1  # Lime reports the change back…
    assert Contact.objects.get(pk=contact.pk).updated_at == updated_at  # …and it is recognised as our own


def test_contacts_from_a_crm_go_to_lime_only_when_turned_on_and_only_once(lime, lime_emulator):
    crm, _ = Connection.objects.get_or_create(name="CRM", system="webhook")
    contact_upsert(ContactData(first_name="Вера", phones=["+79001230000"]), connection=crm, external_id="1")
    assert not Outbox.objects.filter(connection=lime).exists()
    lime.settings["create_contacts_in_lime"] = True
    lime.save()
    _contact, _ = contact_upsert(ContactData(first_name="Вера", last_name="Орлова", phones=["+79001230001"],
                                            emails=["vera@example.ru"]), connection=crm, external_id="2")
    assert outbox_drain().sent == 1
    in_lime = [c for c in lime_emulator.app.clients.values() if c["email"] == "vera@example.ru"]
    assert len(in_lime) == 1 and in_lime[0]["displayName"] == "Орлова Вера"
    contact_upsert(ContactData(first_name="Вера", last_name="Орлова", phones=["+79001230001"],
                               emails=["vera@example.ru"], birth_date=dt.date(1990, 1, 2)),
                   connection=crm, external_id="2")
    assert outbox_drain().sent == 1
    in_lime = [c for c in lime_emulator.app.clients.values() if c["email"] == "vera@example.ru"]
    assert len(in_lime) == 1 and in_lime[0]["birthDate"] == "1990-01-02"


def test_preorder_reaches_lime_with_its_lines_then_updates_and_cancels(lime, lime_emulator):
    connection_pull(lime, full=True)
    contact = Contact.objects.get(pk=ExternalRef.objects.filter(connection=lime, kind="contact")
                                  .order_by("pk").first().local_id)
    party = Product.objects.get(pk=ExternalRef.objects.get(kind="product", external_id="301").local_id)
    towel = Product.objects.get(pk=ExternalRef.objects.get(kind="product", external_id="402").local_id)
    when = timezone.now() + dt.timedelta(days=10)
    preorder, _ = preorder_upsert(contact=contact, scheduled_for=when, comment="ДР Маши",
                                  lines=[PreorderLineData(party), PreorderLineData(towel, Decimal(10), Decimal(250))])
    assert outbox_drain().sent == 1
    [sent] = lime_emulator.app.state()["preorders"]
    assert sent["lines"] == [{"goodTypeId": 301, "count": 1.0, "price": 2500000},
                             {"goodTypeId": 402, "count": 10.0, "price": 25000}]
    assert sent["comment"] == "ДР Маши"
    preorder_upsert(preorder=preorder, contact=contact, scheduled_for=when, lines=[PreorderLineData(party)])
    assert outbox_drain().sent == 1
    [sent] = lime_emulator.app.state()["preorders"]
    assert len(sent["lines"]) == 1
    preorder_cancel(preorder)
    assert outbox_drain().sent == 1
    assert lime_emulator.app.state()["preorders"][0]["status"] == "cancelled"
    connection_pull(lime)  # Lime reports it back: the same preorder, not a new one
    assert Preorder.objects.count() == 1 and Preorder.objects.get().status == "cancelled"


def test_bad_records_are_rejected_with_a_reason_and_the_page_goes_on(lime, lime_emulator):
    bad = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult")
    _knob(lime_emulator, edit_client={"id": bad["id"], "phoneNumber": "12", "email": ""})
    report = connection_pull(lime, full=True)
    assert report.counts["clients rejected"] == 1
    rejected = Inbox.objects.get(status=Inbox.Status.REJECTED, kind="lime.client")
    assert rejected.payload["data"]["id"] == bad["id"] and "номер" in rejected.error
    assert report.counts["clients"] == _lime_counts(lime_emulator.app)["clients"] - 1


def _pull_until_done(connection, attempts=10):
    errors = []
    for _ in range(attempts):
        try:
            connection_pull(connection)
            return errors
        except SyncError as exc:  # what the scheduler does: try again at the next interval
            errors.append(str(exc))
    raise AssertionError(errors)


def test_backfill_survives_token_expiry_500s_and_timeouts_with_nothing_lost_or_duplicated(lime, lime_emulator):
    lime.settings["read_timeout"] = 0.5
    lime.save()
    _knob(lime_emulator, expire_tokens_after=7)
    _knob(lime_emulator, faults=[
        {"status": 500, "times": 2, "path_prefix": "/api/Checks/Select"},
        {"latency_ms": 1500, "times": 1, "path_prefix": "/api/Passes/Select"},
        {"status": 503, "times": 1, "path_prefix": "/api/Clients/Select"},
    ])
    errors = " | ".join(_pull_until_done(lime))
    assert "timeout" in errors and "HTTP 500" in errors and "HTTP 503" in errors
    assert _hub_counts(lime) == _lime_counts(lime_emulator.app)
    lime.refresh_from_db()
    assert lime.credentials["access_token"]  # re-authenticated and stored


def test_edits_during_a_backfill_and_late_receipts_are_not_lost(lime, lime_emulator, monkeypatch):
    from connectors.lime import mapping
    from connectors.lime.client import LimeClient

    monkeypatch.setattr(mapping, "PAGE_SIZE", 10)
    app = lime_emulator.app
    first_page = sorted(app.clients.values(), key=lambda c: (c["modified"], c["id"]))[:10]
    original = LimeClient.select
    edited = []

    def select_and_edit(self, entity, filt, skip, take):
        page = original(self, entity, filt, skip, take)
        if entity == "Clients" and not edited:  # someone edits an already-read client meanwhile
            edited.append(first_page[0]["id"])
            _knob(lime_emulator, edit_client={"id": first_page[0]["id"], "displayName": "Зайцева Нина"})
        return page

    monkeypatch.setattr(LimeClient, "select", select_and_edit)
    connection_pull(lime, full=True)
    assert _hub_counts(lime) == _lime_counts(app)
    ref = ExternalRef.objects.get(connection=lime, kind="contact", external_id=str(edited[0]))
    assert Contact.objects.get(pk=ref.local_id).first_name == "Нина"
    # A receipt that arrives late with an old time (offline cashdesk) is still read.
    with app.lock:
        late = app._new_check(app._now() - dt.timedelta(days=300))
    connection_pull(lime)
    assert Purchase.objects.filter(number=str(late["id"])).exists()


def test_a_lost_insert_answer_does_not_create_the_contact_twice(lime, lime_emulator, settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    lime.settings["create_contacts_in_lime"] = True
    lime.save()
    crm, _ = Connection.objects.get_or_create(name="CRM", system="webhook")
    contact_upsert(ContactData(first_name="Яна", phones=["+79005550000"]), connection=crm, external_id="9")
    _knob(lime_emulator, status=500, times=1, path_prefix="/api/ClientManagement/Update")
    assert outbox_drain().retried == 1
    assert outbox_drain().sent == 1
    assert sum(c["phoneNumber"] == "79005550000" for c in lime_emulator.app.clients.values()) == 1


def test_preorder_status_survives_the_round_trip_and_a_lost_answer_makes_no_duplicate(lime, lime_emulator,
                                                                                       settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    connection_pull(lime, full=True)
    contact = Contact.objects.get(pk=ExternalRef.objects.filter(connection=lime, kind="contact")
                                  .order_by("pk").first().local_id)
    party = Product.objects.get(pk=ExternalRef.objects.get(kind="product", external_id="301").local_id)
    _knob(lime_emulator, status=502, times=1, after=True, path_prefix="/api/PreOrders/Insert")
    preorder, _ = preorder_upsert(contact=contact, status="confirmed", lines=[PreorderLineData(party)])
    assert outbox_drain().retried == 1  # Lime stored it, but we never heard
    connection_pull(lime)  # Lime reports it first: recognised as ours by its externalId
    assert Preorder.objects.count() == 1
    assert outbox_drain().sent == 1  # the retry finds it by externalId, no second one in Lime
    assert len(lime_emulator.app.state()["preorders"]) == 1
    assert lime_emulator.app.state()["preorders"][0]["status"] == "confirmed"
    connection_pull(lime)
    preorder.refresh_from_db()
    assert preorder.status == "confirmed" and Preorder.objects.count() == 1


def test_phone_changed_in_lime_becomes_the_primary_and_is_not_reverted(lime, lime_emulator):
    connection_pull(lime, full=True)
    client = next(c for c in lime_emulator.app.clients.values() if c["category"] == "adult" and c["phoneNumber"])
    _knob(lime_emulator, edit_client={"id": client["id"], "phoneNumber": "79990001122"})
    connection_pull(lime)
    contact = Contact.objects.get(pk=ExternalRef.objects.get(kind="contact", external_id=str(client["id"])).local_id)
    assert contact.phone == "+79990001122"
    crm, _ = Connection.objects.get_or_create(name="CRM", system="webhook")
    contact_upsert(ContactData(first_name="Кира", phones=["+79990001122"]), connection=crm, external_id="k")
    outbox_drain()
    assert lime_emulator.app.client_record(client["id"])["phoneNumber"] == "79990001122"


def test_children_sharing_the_parents_phone_stay_separate_children(lime, lime_emulator):
    connection_pull(lime, full=True)
    app = lime_emulator.app
    shared = [c for c in app.clients.values() if c["category"] == "child" and c["phoneNumber"]]
    assert shared  # the emulator seeds such children
    for child in shared:
        contact = Contact.objects.get(pk=ExternalRef.objects.get(kind="contact", external_id=str(child["id"])).local_id)
        assert contact.category == "child" and contact.merged_into_id is None and not contact.identities.exists()


def test_a_malformed_good_type_is_rejected_and_the_pull_goes_on(lime, lime_emulator):
    with lime_emulator.app.lock:
        lime_emulator.app.good_types.append("garbage")
        lime_emulator.app.good_types.append({"id": 999, "name": "Кривая цена", "basePrice": "abc", "categoryId": [1]})
    report = connection_pull(lime, full=True)
    assert report.counts["products rejected"] == 2
    assert report.counts["clients"] > 0
    assert Inbox.objects.filter(kind="lime.good_type", status="rejected").count() == 2
