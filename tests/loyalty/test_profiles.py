"""One client, many records, programs and venues: which contacts are linked (merges at any
depth, shared phone / e-mail / identity, a card used by another record; never family), what
each holds in every program and system, the totals, and a fixed number of queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.models import Card, Connection, Contact, ContactIdentity, ContactRelation, ExternalRef, Pass, Purchase
from loyalty.models import Account, Program, Receipt, Tier
from loyalty.profiles import CARD, EMAIL, MERGED, PHONE, SELF, client_profiles

pytestmark = pytest.mark.django_db
PHONE_NUMBER = "+79161234567"


def person(name: str, **fields) -> Contact:
    return Contact.objects.create(first_name=name, **fields)


@pytest.fixture
def anna() -> Contact:
    anna = person("Анна", phone=PHONE_NUMBER)
    ContactIdentity.objects.create(contact=anna, kind="phone", value=PHONE_NUMBER)
    ContactIdentity.objects.create(contact=anna, kind="email", value="anna@example.ru")
    return anna


def reasons_of(profiles) -> dict[str, set[str]]:
    return {item.contact.first_name: set(item.reasons) for item in profiles.profiles}


def test_links_merges_shared_phone_email_identity_and_card_but_not_family(anna):
    by_phone = person("Анна из Лайма", phone=PHONE_NUMBER)  # her phone as their primary phone
    person("А. Иванова", email="anna@example.ru")  # her e-mail identity as their e-mail
    merged = person("Дубль", merged_into=anna, phone="+79160000000")
    person("Дубль дубля", merged_into=merged)
    person("Дубль Лайма", merged_into=by_phone)
    by_identity = person("Аня")  # holds the merged record's phone as an identity
    ContactIdentity.objects.create(contact=by_identity, kind="phone", value="+79160000000")
    kid = person("Петя", phone=PHONE_NUMBER, category="child")  # a child on the parent's phone
    ContactRelation.objects.create(parent=anna, child=kid)
    mother = person("Мама", email="anna@example.ru")
    ContactRelation.objects.create(parent=mother, child=anna)
    brother = person("Брат", phone=PHONE_NUMBER)
    ContactRelation.objects.create(parent=mother, child=brother)
    person("Чужой", phone="+79990000000")
    card = Card.objects.create(code="C-1", contact=anna)
    used_card = person("Кто-то с её картой")
    Purchase.objects.create(contact=used_card, card=card, purchased_at=timezone.now())
    their_card = Card.objects.create(code="C-2", contact=person("Владелец карты"))
    Pass.objects.create(contact=anna, card=their_card, passed_at=timezone.now())

    profiles = client_profiles(anna)
    assert reasons_of(profiles) == {
        "Анна": {SELF}, "Анна из Лайма": {PHONE}, "Аня": {PHONE}, "А. Иванова": {EMAIL}, "Дубль": {MERGED},
        "Дубль дубля": {MERGED}, "Дубль Лайма": {MERGED}, "Кто-то с её картой": {CARD},
        "Владелец карты": {CARD}}
    assert profiles.profiles[0].contact == anna and profiles.survivor_id == anna.pk
    mergeable = {item.contact.first_name for item in profiles.profiles if item.mergeable}
    assert mergeable == {"Анна из Лайма", "Аня", "А. Иванова", "Кто-то с её картой", "Владелец карты"}


def test_phone_and_email_are_compared_normalised(anna):
    spaced = person("Пробелы")
    ContactIdentity.objects.create(contact=spaced, kind="email", value="other@example.ru")
    Contact.objects.filter(pk=anna.pk).update(email=" Other@Example.RU ")
    anna.refresh_from_db()
    eight = person("Восьмёрка")
    ContactIdentity.objects.create(contact=anna, kind="phone", value="8 (912) 345-67-89")  # stored raw by a source
    Contact.objects.filter(pk=eight.pk).update(phone="+79123456789")
    assert reasons_of(client_profiles(anna)) == {"Анна": {SELF}, "Пробелы": {EMAIL}, "Восьмёрка": {PHONE}}


def test_from_a_merged_record_the_survivor_is_where_merges_go(anna):
    merged = person("Дубль", merged_into=anna)
    profiles = client_profiles(merged)
    assert [item.contact for item in profiles.profiles] == [merged, anna]
    assert profiles.survivor_id == anna.pk
    assert not any(item.mergeable for item in profiles.profiles)


@pytest.fixture
def venues(anna):
    """Anna in two venues' Lime and a CRM, her Lime twin with points in an external program."""
    twin = person("Анна (Лайм 2)", phone=PHONE_NUMBER)
    park = Connection.objects.create(name="Аквапарк", system="lime")
    kids = Connection.objects.create(name="Детский центр", system="lime")
    crm = Connection.objects.create(name="CRM", system="amocrm")
    samosale = Connection.objects.create(name="SamoSale", system="samosale")
    own = Program.objects.create(code="main", name="Бонусы парка")
    external = Program.objects.create(code="ss", name="Бонусы центра", connection=samosale)
    gold = Tier.objects.create(program=own, name="Золото", threshold=Decimal(1000))
    Account.objects.create(contact=anna, program=own, balance=Decimal("150.50"), tier=gold,
                           tier_value=Decimal(1200))
    Account.objects.create(contact=twin, program=external, balance=Decimal(70), pending=Decimal(5))
    Account.objects.create(contact=twin, program=own, balance=Decimal(10))
    ExternalRef.objects.create(connection=park, kind="contact", local_id=anna.pk, external_id="L-100")
    ExternalRef.objects.create(connection=crm, kind="contact", local_id=anna.pk, external_id="777")
    ExternalRef.objects.create(connection=kids, kind="contact", local_id=twin.pk, external_id="K-5")
    ExternalRef.objects.create(connection=samosale, kind="contact", local_id=twin.pk, external_id="ss-9")
    card = Card.objects.create(code="0001", contact=anna)
    ExternalRef.objects.create(connection=park, kind="card", local_id=card.pk, external_id="5001")
    Receipt.objects.create(program=own, contact=anna, ref="r1", at=timezone.now())
    Receipt.objects.create(program=own, contact=anna, ref="r2", at=timezone.now(), status="refunded")
    Purchase.objects.create(contact=anna, purchased_at=timezone.now())
    return {"twin": twin, "park": park, "kids": kids, "crm": crm, "own": own, "external": external}


def test_accounts_systems_cards_receipts_and_totals(anna, venues):
    profiles = client_profiles(anna)
    mine, twin = profiles.profiles
    assert twin.contact == venues["twin"] and twin.reasons == (PHONE,)
    assert [(a.program, a.balance, a.tier, a.tier_value, a.external) for a in mine.accounts] == [
        ("Бонусы парка", Decimal("150.50"), "Золото", Decimal(1200), "")]
    assert [(a.program, a.balance, a.pending, a.external) for a in twin.accounts] == [
        ("Бонусы парка", Decimal(10), Decimal(0), ""),
        ("Бонусы центра", Decimal(70), Decimal(5), "SamoSale (samosale)")]
    assert [(s.connection, s.system, s.external_ids) for s in mine.systems] == [
        ("CRM", "amocrm", ("777",)), ("Аквапарк", "lime", ("L-100",))]
    assert [(s.connection, s.external_ids) for s in twin.systems] == [
        ("SamoSale", ("ss-9",)), ("Детский центр", ("K-5",))]  # by name
    assert [(c.code, [(s.connection, s.external_ids) for s in c.systems]) for c in mine.cards] == [
        ("0001", [("Аквапарк", ("5001",))])]
    assert (mine.receipts, mine.purchases, twin.receipts) == (1, 1, 0)
    assert [(t.program, t.balance, t.pending) for t in profiles.totals] == [
        ("Бонусы парка", Decimal("160.50"), Decimal(0)), ("Бонусы центра", Decimal(70), Decimal(5))]
    assert profiles.total == Decimal("230.50") and profiles.pending == Decimal(5)
    assert mine.balance == Decimal("150.50")


def _queries(contact: Contact) -> int:
    with CaptureQueriesContext(connection) as queries:
        client_profiles(contact)
    return len(queries)


def test_query_count_does_not_grow_with_accounts_refs_cards_and_records(anna, venues):
    few = _queries(anna)
    for n in range(8):
        program = Program.objects.create(code=f"p{n}", name=f"Программа {n}")
        tier = Tier.objects.create(program=program, name=f"Уровень {n}", threshold=Decimal(n))
        Account.objects.create(contact=anna, program=program, balance=Decimal(n), tier=tier)
        Account.objects.create(contact=venues["twin"], program=program, balance=Decimal(n))
        site = Connection.objects.create(name=f"Площадка {n}", system="lime")
        ExternalRef.objects.create(connection=site, kind="contact", local_id=anna.pk, external_id=f"x{n}")
        ExternalRef.objects.create(connection=site, kind="contact", local_id=anna.pk, external_id=f"y{n}")
        card = Card.objects.create(code=f"card-{n}", contact=anna)
        ExternalRef.objects.create(connection=site, kind="card", local_id=card.pk, external_id=f"c{n}")
        Receipt.objects.create(program=program, contact=anna, ref=f"r{n}", at=timezone.now() - dt.timedelta(n))
        twin = person(f"Двойник {n}", phone=PHONE_NUMBER)
        person(f"Дубль двойника {n}", merged_into=twin)
    many = _queries(anna)
    profiles = client_profiles(anna)
    assert len(profiles.profiles) == 18 and len(profiles.totals) == 10
    assert len(profiles.profiles[0].systems) == 10 and len(profiles.profiles[0].cards) == 9
    assert many == few


def test_duplicates_met_by_the_same_offers_and_referrals_still_merge():
    from hub.services.contacts import contact_merge
    from loyalty.models import OfferExposure, Referral, ReferralCode
    from loyalty.services.ledger import program_default
    from loyalty.services.offers import offer_expose

    program = program_default()
    survivor, duplicate = (Contact.objects.create(first_name="Анна") for _ in range(2))
    referrer = Contact.objects.create(first_name="Вера")
    at = timezone.now()
    for contact in (survivor, duplicate):
        offer_expose("rule", 7, contact.pk, "offered", at)
        ReferralCode.objects.create(program=program, contact=contact, code=f"C{contact.pk}")
        Referral.objects.create(program=program, referrer=referrer, friend=contact, code="X")
    offer_expose("rule", 8, duplicate.pk, "control", at)
    contact_merge(survivor, duplicate)
    assert set(OfferExposure.objects.filter(contact=survivor).values_list("offer_id", "group")) == {
        (7, "offered"), (8, "control")}
    assert ReferralCode.objects.get(contact=survivor).code == f"C{survivor.pk}"
    assert Referral.objects.filter(friend=survivor).count() == 1
