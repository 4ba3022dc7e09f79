"""Referrals: a code and link per client; a friend registered once per program, abuse kept
as refused with the reason; the reward paid exactly once, on registration or on the
friend's first purchase from the program's minimum."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from hub.models import Card, Contact, ContactIdentity, Product
from hub.services.connections import connection_upsert
from hub.services.contacts import contact_merge
from loyalty.models import Account, Entry, Receipt, Referral, ReferralCode, ReferralProgram
from loyalty.services.certificates import CODE_ALPHABET
from loyalty.services.ledger import program_default
from loyalty.services.receipts import ReceiptRequest, receipt_confirm, receipt_refund
from loyalty.services.referrals import (
    referral_code_for,
    referral_link,
    referral_register,
    referral_reward,
)
from loyalty.signals import receipt_confirmed

pytestmark = pytest.mark.django_db
D = Decimal
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    """Receipts are confirmed within a day of being made: the clock stands with them."""
    with mock.patch("django.utils.timezone.now", return_value=NOW + dt.timedelta(hours=2)):
        yield


@pytest.fixture
def program():
    return program_default()


@pytest.fixture
def rules(program):
    return ReferralProgram.objects.create(program=program, trigger="first_purchase", referrer_points=D(100),
                                          friend_points=D(50), min_purchase=D(1000),
                                          link_template="https://t.me/our_bot?start=ref_{code}")


@pytest.fixture
def boris():
    """The referrer."""
    return Contact.objects.create(first_name="Борис", phone="+79990000001")


@pytest.fixture
def vera():
    """The friend."""
    return Contact.objects.create(first_name="Вера", phone="+79990000002")


def points(contact):
    return sorted((e.idempotency_key, e.points) for e in Entry.objects.filter(account__contact=contact))


def test_a_client_s_code_is_made_once_and_their_link_carries_it(program, rules, boris):
    code = referral_code_for(program, boris)
    assert len(code.code) == 8 and set(code.code) <= set(CODE_ALPHABET)
    assert referral_code_for(program, boris) == code and ReferralCode.objects.count() == 1
    assert referral_link(program, boris) == f"https://t.me/our_bot?start=ref_{code.code}"
    rules.link_template = ""
    rules.save()
    assert referral_link(program, boris) == code.code


def test_a_program_without_referrals_or_an_unknown_code_is_refused(program, rules, boris, vera):
    code = referral_code_for(program, boris).code
    with pytest.raises(ValidationError, match="не найден"):
        referral_register(program, vera, "ZZZZZZZZ")
    rules.active = False
    rules.save()
    with pytest.raises(ValidationError, match="приглашения друзей не действуют"):
        referral_register(program, vera, code)
    assert not Referral.objects.exists()


def _self(program, boris, vera):
    return {"friend": boris}


def _merged(program, boris, vera):
    contact_merge(boris, vera)  # the friend turns out to be the referrer
    return {}


def _merged_other_way(program, boris, vera):
    referral_code_for(program, boris)
    contact_merge(vera, boris)  # the referrer turns out to be the friend: the code is the friend's now
    return {}


def _same_phone(program, boris, vera):
    return {"friend": Contact.objects.create(first_name="Борис 2", phone="8 (999) 000-00-01")}


def _referrer_device(program, boris, vera):
    ContactIdentity.objects.create(contact=boris, kind="telegram", value="700100")
    return {"device": "telegram:700100"}


def _used_device(program, boris, vera):
    other = Contact.objects.create(first_name="Глеб")
    referral_register(program, other, referral_code_for(program, boris).code, device="telegram:555")
    return {"device": "telegram:555"}


def _referrer_card(program, boris, vera):
    Card.objects.create(code="LIME-1", contact=boris)
    return {"card": "LIME-1"}


def _used_card(program, boris, vera):
    other = Contact.objects.create(first_name="Глеб")
    referral_register(program, other, referral_code_for(program, boris).code, card="LIME-2")
    return {"card": "LIME-2"}


def _bought_before(program, boris, vera):
    Receipt.objects.create(program=program, contact=vera, ref="old", at=NOW - dt.timedelta(days=3), total=D(500))
    return {}


@pytest.mark.parametrize(("make", "reason"), [
    (_self, "Нельзя пригласить самого себя."),
    (_merged, "Нельзя пригласить самого себя."),
    (_merged_other_way, "Нельзя пригласить самого себя."),
    (_same_phone, "У друга тот же телефон, что у пригласившего."),
    (_referrer_device, "Приглашение принято с устройства или аккаунта пригласившего."),
    (_used_device, "С этого устройства уже регистрировались по приглашению."),
    (_referrer_card, "Карта друга принадлежит пригласившему."),
    (_used_card, "Эта карта уже участвовала в приглашении."),
    (_bought_before, "Друг уже покупал раньше: приглашение действует только для новых клиентов."),
])
def test_abuse_is_kept_as_refused_with_the_reason_and_never_rewarded(program, rules, boris, vera, make, reason):
    rules.trigger = "registration"  # would reward at once
    rules.save()
    given = make(program, boris, vera)
    friend = given.pop("friend", vera)
    referral = referral_register(program, friend, referral_code_for(program, boris).code, now=NOW, **given)
    assert (referral.status, referral.reason) == ("refused", reason)
    assert Referral.objects.filter(program=program, friend=referral.friend).count() == 1
    assert referral_reward(referral).status == "refused"
    assert not Entry.objects.filter(source="referral", idempotency_key__startswith=f"referral:{referral.pk}:")


def test_registration_trigger_rewards_both_once(program, rules, boris, vera):
    rules.trigger = "registration"
    rules.save()
    code = referral_code_for(program, boris).code
    referral = referral_register(program, vera, code.lower(), device="telegram:42", now=NOW)
    assert (referral.status, referral.rewarded_at, referral.reason) == ("rewarded", NOW, "")
    again = referral_register(program, vera, code)  # the friend follows the link again
    assert again.pk == referral.pk
    referral_reward(referral)
    assert points(boris) == [(f"referral:{referral.pk}:referrer", D(100))]
    assert points(vera) == [(f"referral:{referral.pk}:friend", D(50))]
    assert set(Entry.objects.values_list("source", flat=True)) == {"referral"}


def test_first_purchase_trigger_waits_for_a_paid_receipt_from_the_minimum(program, rules, boris, vera,
                                                                          django_capture_on_commit_callbacks):
    rules.friend_points = D(0)  # only the referrer gets something
    rules.save()
    referral = referral_register(program, vera, referral_code_for(program, boris).code, now=NOW)
    assert referral.status == "pending" and not Entry.objects.exists()
    ticket = Product.objects.create(name="Билет", base_price=D(600))

    def buy(ref, amount):
        with django_capture_on_commit_callbacks(execute=True):
            return receipt_confirm(ReceiptRequest(program=program, contact=vera, lines=[(ticket, D(1), amount)],
                                                  ref=ref, at=NOW + dt.timedelta(hours=1)))

    buy("small", D(600))  # below the minimum
    referral.refresh_from_db()
    assert referral.status == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        receipt_refund(program, "small")
    big = buy("big", D(1200))
    referral.refresh_from_db()
    assert referral.status == "rewarded" and referral.rewarded_at is not None
    receipt_confirmed.send(sender=Receipt, receipt=big)  # the signal again
    buy("more", D(5000))
    assert points(boris) == [(f"referral:{referral.pk}:referrer", D(100))]
    assert points(vera) == []


def test_returning_the_first_purchase_takes_the_reward_back(program, rules, boris, vera,
                                                            django_capture_on_commit_callbacks):
    referral = referral_register(program, vera, referral_code_for(program, boris).code, now=NOW)
    ticket = Product.objects.create(name="Билет", base_price=D(1200))
    for ref in ("one", "two"):
        with django_capture_on_commit_callbacks(execute=True):
            receipt_confirm(ReceiptRequest(program=program, contact=vera, lines=[(ticket, D(1), D(1200))], ref=ref,
                                           at=NOW + dt.timedelta(hours=1)))
    referral.refresh_from_db()
    assert referral.status == "rewarded"
    with django_capture_on_commit_callbacks(execute=True):
        receipt_refund(program, "one")  # another paid purchase is left: the reward stands
    referral.refresh_from_db()
    assert referral.status == "rewarded"
    with django_capture_on_commit_callbacks(execute=True):
        receipt_refund(program, "two")
    referral.refresh_from_db()
    assert referral.status == "refused" and "возвращена" in referral.reason
    assert Account.objects.get(contact=boris, program=program).balance == 0
    assert Entry.objects.filter(idempotency_key=f"referral:{referral.pk}:referrer:refund").exists()


def test_a_receipt_of_someone_who_was_not_invited_changes_nothing(program, rules, boris,
                                                                  django_capture_on_commit_callbacks):
    ticket = Product.objects.create(name="Билет", base_price=D(2000))
    with django_capture_on_commit_callbacks(execute=True):
        receipt_confirm(ReceiptRequest(program=program, contact=boris, lines=[(ticket, D(1), D(2000))], ref="b"))
    assert not Entry.objects.filter(source="referral").exists()


def test_a_program_kept_by_an_external_system_is_not_rewarded_by_the_hub(program, rules, boris, vera):
    connection, _ = connection_upsert(name="Внешняя программа", system="webhook", base_url="http://127.0.0.1:9")
    program.connection = connection
    program.save()
    rules.trigger = "registration"
    rules.save()
    referral = referral_register(program, vera, referral_code_for(program, boris).code)
    assert referral.status == "pending" and not Entry.objects.exists()
