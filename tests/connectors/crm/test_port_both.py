"""The CRM port's newer rows, each run against both emulators over HTTP: catalog products,
paged field lists, deal reads and stage moves, consent on the card, and a manager's edit
that lands while our update is on its way."""

from decimal import Decimal

import pytest
from django.utils import timezone

from hub.models import Contact, CrmDealState, ExternalRef, Inbox
from hub.services.catalog import product_upsert
from hub.services.consent import consent_grant, consent_text_publish, consent_withdraw
from hub.services.contacts import ContactData, contact_upsert
from hub.services.deals import deal_moved
from hub.services.sales import LineData, purchase_record
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db


def _products_in_crm(crm):
    """(their product ids per deal, their products) as the CRM holds them."""
    if crm.system == "amocrm":
        per_deal = {}
        for link in crm.app.links:
            per_deal.setdefault(link["lead_id"], []).append(link["to_entity_id"])
        return per_deal, list(crm.app.catalog_elements.values())
    per_deal = {deal_id: [r["PRODUCT_ID"] for r in rows] for deal_id, rows in crm.app.product_rows.items()}
    return per_deal, list(crm.app.products.values())


def test_a_hub_product_becomes_one_crm_product_reused_by_every_deal(crm):
    contact, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79120000011"]))
    ticket = product_upsert(name="Взрослый билет", base_price="1500")
    line = LineData(product=ticket, price=Decimal(1500))
    purchase_record(purchased_at=timezone.now(), contact=contact, lines=[line, line])  # two lines: two deals
    drain_outbox()
    per_deal, products = _products_in_crm(crm)
    assert len(products) == 1  # made once…
    their_product = ExternalRef.objects.get(connection=crm.connection, kind="product", local_id=ticket.pk)
    assert sorted(per_deal.values()) == [[int(their_product.external_id)]] * 2  # …and both deals point at it
    if crm.system == "amocrm":  # both deals linked in one bulk request, not one request per deal
        assert [r["path"] for r in crm.app.request_log if r["path"].endswith("/link")] == ["/api/v4/leads/link"]


def test_field_lists_are_read_past_the_first_page(crm):
    made = {crm.add_contact_field(f"Поле {n}") for n in range(60)}
    listed = {f.id for f in crm.port.list_fields("contact")}
    assert made <= listed  # 60 new fields span more than one 50-item page


def test_get_deal_reads_a_deal_in_neutral_terms(crm):
    contact, _ = contact_upsert(ContactData(first_name="Ира", phones=["+79120000012"]))
    purchase_record(purchased_at=timezone.now(), contact=contact,
                    lines=[LineData(product=product_upsert(name="Билет", base_price="700"), price=Decimal(700))])
    drain_outbox()
    ref = ExternalRef.objects.get(connection=crm.connection, kind="purchase_line")
    deal = crm.port.get_deal(ref.external_id)
    route = crm.connection.settings["routes"]["purchase"]
    assert (deal["pipeline_id"], deal["stage_id"]) == (str(route["pipeline_id"]), str(route["stage_id"]))
    assert Decimal(deal["amount"]) == 700 and deal["contact_id"] == crm.their_id(contact)
    assert crm.port.get_deal("987654") is None


def test_consent_flags_are_on_the_card_and_follow_a_withdrawal(crm):
    field = crm.add_contact_field("Согласия")
    crm.connection.settings["fields"] = {"consent": field}
    crm.connection.save()
    consent_text_publish(purpose="personal_data", version="1", text="Согласие…", operator_name="ООО Аквапарк")
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79120000013"]))
    drain_outbox()
    their = crm.their_id(contact)
    assert crm.card_text(their, field) == "Обработка ПДн: нет; Рассылки: нет"
    consent_grant(purpose="personal_data", subject_kind="phone", subject_id="+79120000013", channel="telegram",
                  method="button", contact=contact)
    drain_outbox()
    assert crm.card_text(their, field).startswith("Обработка ПДн: да, с ")
    consent_withdraw(purpose="personal_data", channel="admin", contact=contact)
    drain_outbox()
    assert crm.card_text(their, field) == "Обработка ПДн: нет; Рассылки: нет"


def test_a_manager_edit_made_while_our_update_is_on_its_way_is_kept(crm):
    contact, _ = contact_upsert(ContactData(first_name="Анна", last_name="Орлова", phones=["+79120000014"]))
    drain_outbox()
    their = crm.their_id(contact)
    crm.manager_renames(their, "Анастасия", notify=False)  # its webhook has not reached us yet
    contact_upsert(ContactData(phones=["+79120000014"], emails=["anna@example.com"]))  # meanwhile, in the hub
    drain_outbox()
    now = crm.contact(their)
    assert now["first_name"] == "Анастасия"  # the manager's edit survived our update…
    assert now["emails"] == ["anna@example.com"]  # …which still delivered ours
    contact.refresh_from_db()
    assert contact.first_name == "Анастасия"  # and the hub has it too


@pytest.mark.django_db(transaction=True)
def test_a_deal_moved_by_a_manager_reaches_the_domain_once(crm, live_server):
    moves = []

    def listener(sender, connection, deal, previous, **kwargs):
        moves.append((connection.pk, deal.id, previous, (deal.pipeline_id, deal.stage_id)))

    deal_moved.connect(listener)
    try:
        crm.hook_to(live_server)
        contact, _ = contact_upsert(ContactData(first_name="Олег", phones=["+79120000015"]))
        purchase_record(purchased_at=timezone.now(), contact=contact,
                        lines=[LineData(product=product_upsert(name="Билет", base_price="700"),
                                        price=Decimal(700))])
        drain_outbox()
        crm.app.wait_deliveries()
        ref = ExternalRef.objects.get(connection=crm.connection, kind="purchase_line")
        route = crm.connection.settings["routes"]["purchase"]
        start = (str(route["pipeline_id"]), str(route["stage_id"]))
        assert CrmDealState.objects.get(external_id=ref.external_id).stage_id == start[1]
        target = ("3002", "142") if crm.system == "amocrm" else ("1", "C1:WON")
        crm.move_deal(ref.external_id, *target)
        assert (crm.connection.pk, ref.external_id, start, target) in moves
        assert len([m for m in moves if m[3] == target]) == 1
        # the same CRM event delivered again moves nothing
        row = Inbox.objects.filter(connection=crm.connection, kind__in=["crm.deal.update", "crm.deal.stage"]).last()
        from hub.services.inbox import inbox_process

        row.status = Inbox.Status.RECEIVED
        row.save()
        inbox_process(row.pk)
        assert len([m for m in moves if m[3] == target]) == 1
    finally:
        deal_moved.disconnect(listener)
    assert Contact.objects.count() == 1


def test_bonus_balance_and_recent_history_are_on_the_card(crm):
    from loyalty.services.ledger import ledger_earn, ledger_redeem

    balance_field, history_field = crm.add_contact_field("Бонусы"), crm.add_contact_field("История бонусов")
    crm.connection.settings["fields"] = {"bonus_balance": balance_field, "bonus_history": history_field}
    crm.connection.save()
    contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79120000016"]))
    ledger_earn(contact, 500, reason="Покупка №7", source="purchase", idempotency_key="earn-7")
    ledger_redeem(contact, "120.50", reason="Оплата заказа №8", source="purchase", idempotency_key="pay-8")
    drain_outbox()
    their = crm.their_id(contact)
    assert crm.card_text(their, balance_field) == "379.50 баллов"
    history = crm.card_text(their, history_field).splitlines()
    assert history[0].endswith("-120.50 — Оплата заказа №8") and history[1].endswith("+500 — Покупка №7")
