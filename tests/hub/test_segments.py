"""Contact filters and saved segments: each rule picks the right people, rules combine, a
segment round-trips through its JSON and can be narrowed further."""

import datetime as dt

import pytest

from hub.models import Contact, CrmDealState, ExternalRef, Segment, Tag
from hub.segments import ContactFilter, contacts_matching
from hub.services.connections import connection_upsert

pytestmark = pytest.mark.django_db


def test_filters_by_category_birth_month_tags_and_crm_deal_stage():
    crm, _ = connection_upsert(name="CRM", system="amocrm", base_url="http://127.0.0.1:9")
    anna = Contact.objects.create(first_name="Анна", birth_date=dt.date(1990, 3, 5))
    kid = Contact.objects.create(first_name="Петя", category="child", birth_date=dt.date(2018, 3, 9))
    oleg = Contact.objects.create(first_name="Олег", birth_date=dt.date(1985, 7, 1))
    vip, school = Tag.objects.create(name="VIP"), Tag.objects.create(name="Школа")
    anna.tags.add(vip)
    oleg.tags.add(vip, school)
    ExternalRef.objects.create(connection=crm, kind="contact", local_id=oleg.pk, external_id="700")
    CrmDealState.objects.create(connection=crm, external_id="9", pipeline_id="3004", stage_id="142",
                                data={"contact_id": "700"})
    assert set(contacts_matching(ContactFilter(birth_month=3))) == {anna, kid}
    assert set(contacts_matching(ContactFilter(birth_month=3, category="child"))) == {kid}
    assert set(contacts_matching(ContactFilter(tags=["VIP", "Школа"]))) == {anna, oleg}  # any of, once each
    assert list(contacts_matching(ContactFilter(tags=["VIP"], birth_month=3))) == [anna]
    assert set(contacts_matching(ContactFilter(deal_connection=crm, deal_pipeline="3004", deal_stage="142"))) == {oleg}
    assert not contacts_matching(ContactFilter(deal_connection=crm, deal_stage="143")).exists()


def test_a_segment_keeps_its_rules_and_can_be_narrowed():
    crm, _ = connection_upsert(name="CRM", system="amocrm", base_url="http://127.0.0.1:9")
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    spec = ContactFilter(category="adult", not_visited_days=90, tags=["VIP"], deal_connection=crm,
                         deal_from=dt.date(2026, 1, 1))
    rules = spec.to_rules()
    assert rules == {"category": "adult", "not_visited_days": 90, "tags": ["VIP"], "deal_connection": crm.pk,
                     "deal_from": "2026-01-01"}
    assert ContactFilter.from_rules(rules) == spec
    segment = Segment.objects.create(name="Давно не были", rules={"not_visited_days": 90})
    lapsed = Contact.objects.create(first_name="Анна", last_pass_at=now - dt.timedelta(days=200))
    Contact.objects.create(first_name="Олег", last_pass_at=now - dt.timedelta(days=3))
    lapsed_kid = Contact.objects.create(first_name="Петя", category="child")  # never visited
    assert set(contacts_matching(ContactFilter(segment=segment), now)) == {lapsed, lapsed_kid}
    assert list(contacts_matching(ContactFilter(segment=segment, category="adult"), now)) == [lapsed]


def test_an_absurd_number_of_days_is_a_form_error_not_a_crash(admin_client):
    from django.urls import reverse

    page = admin_client.post(reverse("admin:hub_segment_add"), {"name": "x", "not_visited_days": "1000000"})
    assert page.status_code == 200 and "36500" in page.content.decode()
    assert not Segment.objects.exists()


def test_filters_by_childrens_age_spend_and_bonus_balance():
    from decimal import Decimal

    from django.utils import timezone

    from hub.models import ContactRelation, Purchase
    from loyalty.models import Account
    from loyalty.services.ledger import program_default

    now = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
    mum = Contact.objects.create(first_name="Мама")
    dad = Contact.objects.create(first_name="Папа")
    seven = Contact.objects.create(first_name="Петя", category="child", birth_date=dt.date(2019, 6, 1))
    three = Contact.objects.create(first_name="Вася", category="child", birth_date=dt.date(2022, 11, 25))
    ContactRelation.objects.create(parent=mum, child=seven)
    ContactRelation.objects.create(parent=dad, child=three)
    assert set(contacts_matching(ContactFilter(child_age_from=5, child_age_to=7), now)) == {mum}
    assert set(contacts_matching(ContactFilter(child_age_to=3), now)) == {dad}  # four only tomorrow
    assert set(contacts_matching(ContactFilter(child_age_from=4), now)) == {mum}
    Purchase.objects.create(contact=mum, total=Decimal("1500.00"), purchased_at=timezone.now())
    Purchase.objects.create(contact=mum, total=Decimal("600.00"), purchased_at=timezone.now())
    Purchase.objects.create(contact=dad, total=Decimal("300.00"), purchased_at=timezone.now())
    assert set(contacts_matching(ContactFilter(spend_from=Decimal(2000)))) == {mum}
    assert mum not in set(contacts_matching(ContactFilter(spend_to=Decimal(1000))))
    assert dad in set(contacts_matching(ContactFilter(spend_to=Decimal(1000))))
    Account.objects.create(contact=dad, program=program_default(), balance=Decimal(700))
    assert set(contacts_matching(ContactFilter(bonus_from=Decimal(500)))) == {dad}
    spec = ContactFilter(child_age_from=1, spend_from=Decimal("10.50"), bonus_to=Decimal(5))
    assert ContactFilter.from_rules(spec.to_rules()) == spec
