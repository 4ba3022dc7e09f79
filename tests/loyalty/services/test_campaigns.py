"""Mass accrual and birthday bonuses: the preview matches what is applied, a re-run grants
nobody twice, filters pick the right people (deals included), Feb 29 is someone's birthday."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.models import Contact
from hub.segments import ContactFilter
from loyalty.models import Account, BirthdayBonus, Entry
from loyalty.selectors import balance_for, history_for
from loyalty.services.campaigns import birthday_bonuses_run, mass_accrue, mass_preview
from loyalty.services.ledger import ledger_earn, ledger_verify, program_default

pytestmark = pytest.mark.django_db


def test_mass_accrual_matches_its_preview_and_a_rerun_grants_nobody_twice():
    now = timezone.now()
    lapsed = [Contact.objects.create(first_name=f"Давно{n}", last_pass_at=now - dt.timedelta(days=200))
              for n in range(5)]
    never = Contact.objects.create(first_name="Никогда")
    Contact.objects.create(first_name="Недавно", last_pass_at=now - dt.timedelta(days=3))
    ledger_earn(lapsed[0], 10, reason="старые", source="purchase", idempotency_key="old")  # has an account
    spec = ContactFilter(not_visited_days=90)
    preview = mass_preview(spec, 150, "winback-2026-11")
    assert (preview.contacts, preview.already, preview.points_total) == (6, 0, Decimal(900))
    assert mass_accrue(spec, 150, campaign="winback-2026-11", reason="Скучаем по вам") == 6
    assert mass_preview(spec, 150, "winback-2026-11").already == 6
    assert mass_accrue(spec, 150, campaign="winback-2026-11", reason="Скучаем по вам") == 0
    assert Account.objects.get(contact=lapsed[0]).balance == 160 and Account.objects.get(contact=never).balance == 150
    for account in Account.objects.all():
        cached, computed = ledger_verify(account)
        assert cached == computed
    assert Entry.objects.filter(source="campaign").count() == 6


def test_bad_mass_accrual_input_is_refused():
    with pytest.raises(ValidationError, match="больше нуля"):
        mass_accrue(ContactFilter(), 0, campaign="x", reason="r")
    with pytest.raises(ValidationError, match="Назовите"):
        mass_accrue(ContactFilter(), 10, campaign="", reason="r")


def test_birthday_bonus_once_a_year_children_included_and_feb_29_on_feb_28():
    rule = BirthdayBonus.objects.create(program=program_default(), points=500, days_before=3, expiry_days=30)
    mom = Contact.objects.create(first_name="Мама", birth_date=dt.date(1990, 3, 3))
    kid = Contact.objects.create(first_name="Сын", category="child", birth_date=dt.date(2016, 3, 3))
    leap = Contact.objects.create(first_name="Високосный", birth_date=dt.date(2000, 2, 29))
    Contact.objects.create(first_name="Не сегодня", birth_date=dt.date(1990, 3, 4))
    today = dt.date(2027, 2, 28)  # 3 days before 3 March 2027
    assert birthday_bonuses_run(rule, today=today) == 2
    assert birthday_bonuses_run(rule, today=today) == 0  # the job ran twice: granted once
    assert {e.account.contact for e in Entry.objects.filter(source="birthday")} == {mom, kid}
    assert birthday_bonuses_run(rule, today=dt.date(2027, 2, 25)) == 1  # 28 Feb 2027: born on 29 Feb
    assert Account.objects.get(contact=leap).balance == 500
    rule.children = False
    rule.save()
    assert birthday_bonuses_run(rule, today=dt.date(2028, 2, 29)) == 1  # next year, parents only
    assert Account.objects.get(contact=kid).balance == 500 and Account.objects.get(contact=mom).balance == 1000


def test_balance_and_history_selectors():
    anna = Contact.objects.create(first_name="Анна")
    ledger_earn(anna, 100, reason="a", source="purchase", idempotency_key="a",
                expires_at=timezone.now() + dt.timedelta(days=10))
    ledger_earn(anna, 50, reason="b", source="purchase", idempotency_key="b")
    balance = balance_for(anna)
    assert balance.total == 150 and balance.expiring_30_days == 100
    assert [e.reason for e in history_for(anna)] == ["b", "a"]


def test_mass_accrual_commits_first_and_the_crm_cards_follow_in_the_background(webhook_connection,
                                                                              django_capture_on_commit_callbacks):
    from hub.models import Outbox

    people = [Contact.objects.create(first_name=f"Клиент {i}") for i in range(3)]
    Outbox.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert mass_accrue(ContactFilter(), 10, campaign="cards", reason="r") == 3
    assert not Outbox.objects.exists() and len(queued) == 1  # one background chunk, after the commit
    queued[0]()
    assert set(Outbox.objects.filter(action="contact.upsert").values_list("target_id", flat=True)) == {
        p.pk for p in people}
