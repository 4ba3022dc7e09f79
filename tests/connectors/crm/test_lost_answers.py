"""A create the CRM did whose answer never came back (a 503/504 after the work) is found again
on the retry and linked, never made a second time — against both emulators over HTTP."""

from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from hub.models import CrmDealState, ExternalRef, Outbox
from hub.services.catalog import product_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.outbox import outbox_drain
from hub.services.sales import LineData, purchase_record
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db

LOOKUPS = {"amocrm": ("/api/v4/contacts", "/api/v4/leads"),
           "bitrix24": ("crm.duplicate.findbycomm", "crm.contact.list", "crm.deal.list")}


def _lose_next_answer(crm, entity, status=503):
    """The CRM does the next write of ``entity`` and answers ``status``: the answer is lost."""
    prefix = {"contact": "/api/v4/contacts", "deal": "/api/v4/leads"}[entity] if crm.system == "amocrm" else "/rest"
    answer = requests.post(f"{crm.emulator.url}/_emulator/faults", timeout=5,
                           json={"status": status, "after": True, "times": 1, "path_prefix": prefix})
    assert answer.ok


def _retry_now():
    Outbox.objects.filter(status=Outbox.Status.FAILED).update(next_attempt_at=timezone.now())


def _their_contacts(crm):
    return sorted(crm.app.contacts)


def _their_deals(crm):
    return sorted(crm.app.leads if crm.system == "amocrm" else crm.app.deals)


def _lookups(crm):
    """Requests (amoCRM) or REST methods (Bitrix24) that look for an earlier create."""
    if crm.system == "amocrm":
        return [r for r in crm.app.request_log if r["method"] == "GET" and r["path"] in LOOKUPS["amocrm"]]
    return [m for m in crm.app.state()["methods"] if m in LOOKUPS["bitrix24"]]


def _products_of(crm, deal_id):
    if crm.system == "amocrm":
        return [(link["to_entity_id"], link["metadata"]["quantity"]) for link in crm.app.links
                if link["lead_id"] == int(deal_id)]
    return [(row["PRODUCT_ID"], row["QUANTITY"]) for row in crm.app.product_rows.get(int(deal_id), [])]


def _pending():
    return ExternalRef.objects.filter(kind__startswith="pending:").count()


def test_a_first_attempt_makes_no_lookup(crm):
    contact, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79120000101"]))
    ticket = product_upsert(name="Билет", base_price="500")
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[LineData(product=ticket, price=Decimal(500))])
    assert drain_outbox() == 2
    assert len(_their_contacts(crm)) == 1 and len(_their_deals(crm)) == 1
    assert _lookups(crm) == []  # the common path costs no extra request…
    assert _pending() == 0  # …and leaves nothing behind to look for


@pytest.mark.parametrize("status", [503, 504])
def test_a_contact_whose_create_answer_was_lost_is_linked_on_the_retry(crm, status):
    contact, _ = contact_upsert(ContactData(first_name="Анна", last_name="Ли", phones=["+79120000102"]))
    _lose_next_answer(crm, "contact", status)
    outbox_drain()
    row = Outbox.objects.get(action="contact.upsert")
    assert row.status == Outbox.Status.FAILED and len(_their_contacts(crm)) == 1  # made, but we do not know it
    _retry_now()
    outbox_drain()
    row.refresh_from_db()
    [theirs] = _their_contacts(crm)  # still one: found again, not made a second time
    assert row.status == Outbox.Status.SENT and row.external_id == str(theirs)
    assert crm.their_id(contact) == str(theirs) and _pending() == 0
    assert _lookups(crm)  # the retry did look


def test_a_newer_change_of_a_contact_whose_create_was_lost_finds_it_too(crm):
    """The failed row is superseded by the next change: that row's first attempt must look too."""
    contact, _ = contact_upsert(ContactData(first_name="Вера", phones=["+79120000103"]))
    _lose_next_answer(crm, "contact")
    outbox_drain()
    contact_upsert(ContactData(first_name="Вера", last_name="Новая", phones=["+79120000103"]))
    _retry_now()
    drain_outbox()
    [theirs] = _their_contacts(crm)
    assert crm.their_id(contact) == str(theirs) and crm.contact(str(theirs))["last_name"] == "Новая"
    sent = Outbox.objects.get(action="contact.upsert", status=Outbox.Status.SENT)
    assert sent.payload["last_name"] == "Новая" and sent.external_id == str(theirs)


def test_a_deal_in_the_same_batch_finds_the_contact_whose_answer_was_lost(crm):
    """A new client's first purchase: the contact's create is lost, the deal's contact lookup in
    the same batch finds it instead of making a second one."""
    contact, _ = contact_upsert(ContactData(first_name="Гоша", emails=["gosha@example.ru"]))
    purchase_record(purchased_at=timezone.now(), contact=contact,
                    lines=[LineData(product=product_upsert(name="Билет", base_price="700"), price=Decimal(700))])
    _lose_next_answer(crm, "contact")
    outbox_drain()
    [theirs] = _their_contacts(crm)
    [deal] = _their_deals(crm)
    assert crm.port.get_deal(str(deal))["contact_id"] == str(theirs)
    _retry_now()
    drain_outbox()
    assert _their_contacts(crm) == [theirs] and _their_deals(crm) == [deal]
    assert set(Outbox.objects.values_list("status", flat=True)) == {Outbox.Status.SENT}


def test_deals_whose_create_answer_was_lost_are_linked_and_keep_one_set_of_products(crm):
    contact, _ = contact_upsert(ContactData(first_name="Дина", phones=["+79120000104"]))
    ticket = product_upsert(name="Детский билет", base_price="800")
    line = LineData(product=ticket, price=Decimal(800))
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[line])
    drain_outbox()  # the client, the product and a first deal are known: the next push is the deal write alone
    before = _their_deals(crm)
    purchase, _ = purchase_record(purchased_at=timezone.now(), contact=contact, lines=[line, line])  # two equal deals
    outbox_drain(only=Outbox.objects.filter(action="contact.upsert").values_list("pk", flat=True))  # its new card
    _lose_next_answer(crm, "deal")
    outbox_drain()
    row = Outbox.objects.get(action="purchase.created", target_id=purchase.pk)
    made = [d for d in _their_deals(crm) if d not in before]
    assert row.status == Outbox.Status.FAILED and len(made) == 2
    _retry_now()
    outbox_drain()
    row.refresh_from_db()
    assert sorted(d for d in _their_deals(crm) if d not in before) == made  # no second pair
    linked = sorted(int(ref.external_id) for ref in ExternalRef.objects.filter(
        connection=crm.connection, kind="purchase_line", local_id__in=purchase.lines.values("pk")))
    assert linked == made and row.status == Outbox.Status.SENT and int(row.external_id) in made
    their_ticket = int(ExternalRef.objects.get(connection=crm.connection, kind="product",
                                               local_id=ticket.pk).external_id)
    assert [_products_of(crm, d) for d in made] == [[(their_ticket, 1.0)]] * 2  # one row each, not two
    assert CrmDealState.objects.filter(connection=crm.connection, external_id__in=[str(d) for d in made]).count() == 2
    assert _pending() == 0


def test_a_leads_deal_whose_create_answer_was_lost_is_linked_on_the_retry(crm):
    from hub.models import ClientRequest
    from hub.services.requests import client_request_create

    crm.connection.settings["routes"]["request"] = crm.connection.settings["routes"]["purchase"]
    crm.connection.save()
    request, _ = client_request_create(kind=ClientRequest.Kind.LEAD, source="tilda", key="form:1",
                                       title="Заявка с сайта")
    _lose_next_answer(crm, "deal")
    outbox_drain()
    [made] = _their_deals(crm)
    _retry_now()
    outbox_drain()
    row = Outbox.objects.get(action="request.created")
    assert _their_deals(crm) == [made] and row.status == Outbox.Status.SENT and row.external_id == str(made)
    assert ExternalRef.objects.get(connection=crm.connection, kind="client_request",
                                   local_id=request.pk).external_id == str(made)


def test_a_lookup_refused_outright_is_retried_never_dead_nor_created_blind(crm):
    contact, _ = contact_upsert(ContactData(first_name="Вера", phones=["+79120000109"]))
    _lose_next_answer(crm, "contact")
    outbox_drain()
    prefix = "/api/v4/contacts" if crm.system == "amocrm" else "/rest"
    requests.post(f"{crm.emulator.url}/_emulator/faults", timeout=5,  # the lookup itself: a plain 400
                  json={"status": 400, "times": 1, "path_prefix": prefix}).raise_for_status()
    _retry_now()
    outbox_drain()
    row = Outbox.objects.get(action="contact.upsert")
    assert row.status == Outbox.Status.FAILED and len(_their_contacts(crm)) == 1
    _retry_now()
    outbox_drain()
    row.refresh_from_db()
    assert row.status == Outbox.Status.SENT and len(_their_contacts(crm)) == 1
    assert ExternalRef.objects.get(kind="contact", local_id=contact.pk).external_id == row.external_id
