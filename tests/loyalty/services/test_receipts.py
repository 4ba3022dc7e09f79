"""The receipt engine end to end: calculate writes nothing and says why; confirm writes once
and refuses with every reason; refunds undo; purchases from the ticketing system go through
the same rules; no sequence of purchases and refunds leaves points that should not be there;
limits and single-use codes hold under concurrent confirms."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.models import Contact, Product, ProductCategory
from hub.services.money import money
from hub.services.sales import LineData, purchase_record
from loyalty.models import (
    Account,
    CategoryRate,
    EarningRule,
    Entry,
    PromoCode,
    PromoUse,
    PurchaseLimit,
    Receipt,
    RuleHit,
    Tier,
)
from loyalty.selectors import credits_with_remaining
from loyalty.services.ledger import ledger_earn, ledger_verify, program_default
from loyalty.services.receipts import (
    ReceiptRefused,
    ReceiptRequest,
    receipt_calculate,
    receipt_confirm,
    receipt_refund,
)
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db
D = Decimal
SATURDAY_NOON = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)  # 12:00 in Moscow
NOW = SATURDAY_NOON + dt.timedelta(hours=15)  # 03:00 on Sunday in Moscow


@pytest.fixture(autouse=True)
def clock():
    """Receipts are confirmed within a day of being made: the clock stands just after them."""
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield


@pytest.fixture
def program():
    program = program_default()
    program.earn_percent, program.max_redeem_share = D(5), D(30)
    program.save()
    return program


@pytest.fixture
def ticket():
    tickets = ProductCategory.objects.create(name="Билеты")
    return Product.objects.create(name="Билет взрослый", sku="T-1", category=tickets, base_price=D(1000))


@pytest.fixture
def food(program):
    food = ProductCategory.objects.create(name="Еда")
    CategoryRate.objects.create(program=program, category=food, percent=D(10))
    return Product.objects.create(name="Пицца", sku="F-1", category=food, base_price=D(500))


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна", phone="+79990000001")


def request(program, contact, lines, ref="", **kwargs):
    return ReceiptRequest(program=program, contact=contact, lines=lines, ref=ref, at=kwargs.pop("at", SATURDAY_NOON),
                          **kwargs)


def test_calculate_explains_and_writes_nothing_confirm_writes_the_same_once(program, anna, ticket, food):
    lines = [(ticket, D(2), D(2000)), (food, D(1), D(500))]
    calc = receipt_calculate(request(program, anna, lines))
    assert calc.ok and calc.earn_points == D(150)  # 5% of 2000 + 10% of 500
    assert calc.to_pay == D(2500) and calc.max_points == 0  # nothing to pay with yet
    texts = " ".join(step.text for step in calc.ctx.trace)
    assert "10" in texts and "5" in texts and "150" in texts
    assert not Receipt.objects.exists() and not Entry.objects.exists()

    receipt = receipt_confirm(request(program, anna, lines, "T-100"))
    assert receipt.points_earned == D(150) and receipt.paid == D(2500) and receipt.lines.count() == 2
    assert receipt.trace and Account.objects.get(contact=anna).balance == D(150)
    again = receipt_confirm(request(program, anna, lines, "T-100"))
    assert again.pk == receipt.pk and Entry.objects.count() == 1
    other = Contact.objects.create(first_name="Борис")
    with pytest.raises(ValidationError, match="другого клиента"):
        receipt_confirm(request(program, other, lines, "T-100"))


def test_paying_with_points_is_capped_by_the_share_and_earns_only_on_money(program, anna, ticket):
    ledger_earn(anna, 500, reason="старт", source="manual", idempotency_key="start")
    lines = [(ticket, D(1), D(1000))]
    calc = receipt_calculate(request(program, anna, lines, redeem_points=D(400)))
    assert not calc.ok and calc.max_points == D(300)
    assert "не больше 300" in calc.ctx.refusals[0].reason
    with pytest.raises(ReceiptRefused, match="не больше 300"):
        receipt_confirm(request(program, anna, lines, "P-1", redeem_points=D(400)))
    receipt = receipt_confirm(request(program, anna, lines, "P-1", redeem_points=D(300)))
    assert (receipt.points_redeemed, receipt.paid, receipt.points_earned) == (D(300), D(700), D(35))
    assert Account.objects.get(contact=anna).balance == D(500 - 300 + 35)


def test_a_level_sets_the_rate_and_the_share_payable_by_points(program, anna, ticket):
    gold = Tier.objects.create(program=program, name="Золото", threshold=D(100), earn_percent=D(8),
                               max_redeem_share=D(50))
    ledger_earn(anna, 600, reason="старт", source="manual", idempotency_key="start")
    Account.objects.filter(contact=anna).update(tier=gold)
    calc = receipt_calculate(request(program, anna, [(ticket, D(1), D(1000))]))
    assert calc.max_points == D(500) and calc.earn_points == D(80) and calc.ctx.tier == gold
    assert any("Золото" in step.text for step in calc.ctx.trace)


def test_a_promo_code_alone_forbids_paying_with_points_and_its_use_comes_back_on_refund(program, anna, ticket):
    ledger_earn(anna, 500, reason="старт", source="manual", idempotency_key="start")
    PromoCode.objects.create(program=program, code="SOLO", name="Только он", discount_percent=D(10),
                             combinable=False, max_uses=1)
    lines = [(ticket, D(1), D(1000))]
    calc = receipt_calculate(request(program, anna, lines, promo_codes=("solo",)))
    assert calc.ok and calc.ctx.discount == D(100) and calc.max_points == 0 and calc.to_pay == D(900)
    with pytest.raises(ReceiptRefused, match="не суммируется"):
        receipt_confirm(request(program, anna, lines, "S-1", promo_codes=("SOLO",), redeem_points=D(100)))
    receipt = receipt_confirm(request(program, anna, lines, "S-1", promo_codes=("SOLO",)))
    assert receipt.discount == D(100) and receipt.points_earned == D(45)  # 5% of the 900 paid
    with pytest.raises(ReceiptRefused):  # single use
        receipt_confirm(request(program, anna, lines, "S-2", promo_codes=("SOLO",)))

    receipt_refund(program, "S-1")
    receipt_refund(program, "S-1")  # twice is once
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.REFUNDED
    assert PromoUse.objects.get().cancelled and PromoCode.objects.get().uses == 0
    assert Account.objects.get(contact=anna).balance == D(500)  # the 45 earned are taken back
    assert receipt_confirm(request(program, anna, lines, "S-3", promo_codes=("SOLO",))).discount == D(100)


def test_a_refund_gives_paid_points_back_and_takes_earned_ones(program, anna, ticket):
    ledger_earn(anna, 300, reason="старт", source="manual", idempotency_key="start")
    receipt_confirm(request(program, anna, [(ticket, D(1), D(1000))], "R-1", redeem_points=D(300)))
    assert Account.objects.get(contact=anna).balance == D(35)
    receipt_refund(program, "R-1")
    account = Account.objects.get(contact=anna)
    assert account.balance == D(300) and ledger_verify(account)[0] == ledger_verify(account)[1]
    with pytest.raises(ValidationError, match="не найден"):
        receipt_refund(program, "nope")


def test_a_limit_refuses_the_receipt_with_its_reason(program, anna, ticket):
    limit = PurchaseLimit.objects.create(program=program, name="Два билета в день", measure="quantity",
                                         max_value=D(2), period="day")
    limit.products.add(ticket)
    receipt_confirm(request(program, anna, [(ticket, D(2), D(2000))], "L-1"))
    calc = receipt_calculate(request(program, anna, [(ticket, D(1), D(1000))]))
    assert not calc.ok and "Два билета в день" in calc.ctx.refusals[0].reason
    with pytest.raises(ReceiptRefused, match="Два билета в день"):
        receipt_confirm(request(program, anna, [(ticket, D(1), D(1000))], "L-2"))
    next_day = SATURDAY_NOON + dt.timedelta(hours=14)  # 02:00 on Sunday in Moscow
    assert receipt_confirm(request(program, anna, [(ticket, D(1), D(1000))], "L-3", at=next_day)).pk


def test_a_purchase_from_the_ticketing_system_goes_through_the_rules_once(program, anna, ticket,
                                                                         webhook_connection):
    weekend = EarningRule.objects.create(program=program, name="Выходные ×2", effect="multiply", value=D(2),
                                         weekdays="67")

    def record(status: str = "paid"):
        return purchase_record(purchased_at=SATURDAY_NOON, contact=anna, number="L-77", status=status,
                               lines=[LineData(product=ticket, quantity=D(1), price=D(1000))],
                               connection=webhook_connection, external_id="77")[0]

    purchase = record()
    record()  # pulled again
    receipt = Receipt.objects.get(purchase=purchase)
    assert receipt.ref == f"purchase:{purchase.pk}" and receipt.points_earned == D(100)
    assert RuleHit.objects.get(receipt=receipt).rule == weekend
    assert Entry.objects.get(idempotency_key=f"purchase:{purchase.pk}").points == D(100)
    assert Receipt.objects.count() == 1 and Entry.objects.count() == 1
    record("refunded")
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.REFUNDED
    assert Entry.objects.get(idempotency_key=f"purchase:{purchase.pk}:refund").points == D(-100)
    assert Account.objects.get(contact=anna).balance == 0


def test_an_external_program_is_not_computed_here(program, anna, ticket, webhook_connection):
    program.connection = webhook_connection
    program.save()
    with pytest.raises(ValidationError, match="внешняя программа"):
        receipt_calculate(request(program, anna, [(ticket, D(1), D(100))]))


PURCHASES = st.lists(st.tuples(st.sampled_from(["buy", "refund"]), st.integers(min_value=1, max_value=5000),
                               st.integers(min_value=0, max_value=30)), min_size=1, max_size=20)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PURCHASES)
def test_purchases_and_refunds_leave_exactly_the_points_of_the_receipts_kept(ops):
    """Without paying by points, the balance is exactly what the receipts not refunded earned;
    a refunded receipt has no points left anywhere."""
    program = program_default()
    program.earn_percent = D(7)
    program.save()
    contact = Contact.objects.create(first_name="Гипотеза")
    refs: list[str] = []
    for n, (op, amount, pick) in enumerate(ops):
        if op == "buy" or not refs:
            refs.append(f"H-{contact.pk}-{n}")
            receipt_confirm(request(program, contact, [(None, D(1), D(amount))], refs[-1],
                                    at=SATURDAY_NOON + dt.timedelta(minutes=n)))
        else:
            receipt_refund(program, refs[pick % len(refs)])
        kept = Receipt.objects.filter(contact=contact, status=Receipt.Status.PAID)
        account = Account.objects.get(contact=contact)
        cached, computed = ledger_verify(account)
        assert cached == computed == sum((r.points_earned for r in kept), D(0))
        refunded = set(Receipt.objects.filter(contact=contact, status="refunded").values_list("ref", flat=True))
        left = {e.idempotency_key for e in credits_with_remaining(account)}
        assert not {f"order:{ref}:earn" for ref in refunded} & left


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(min_value=100, max_value=3000), st.integers(min_value=0, max_value=100),
                          st.booleans()), min_size=1, max_size=12))
def test_paying_with_points_and_refunds_never_leave_points_unbacked_or_negative(ops):
    program = program_default()
    program.earn_percent, program.max_redeem_share = D(10), D(50)
    program.save()
    contact = Contact.objects.create(first_name="Гипотеза")
    ledger_earn(contact, 1000, reason="старт", source="manual", idempotency_key=f"start-{contact.pk}")
    refs: list[str] = []
    for n, (amount, share, refund) in enumerate(ops):
        if refund and refs:
            receipt_refund(program, refs[share % len(refs)])
            continue
        calc = receipt_calculate(request(program, contact, [(None, D(1), D(amount))]))
        redeem = (calc.max_points * share / 100).quantize(D("0.01"))
        refs.append(f"M-{contact.pk}-{n}")
        receipt_confirm(request(program, contact, [(None, D(1), D(amount))], refs[-1], redeem_points=redeem))
        account = Account.objects.get(contact=contact)
        cached, computed = ledger_verify(account)
        assert cached == computed >= 0
        assert money(sum((c.remaining for c in credits_with_remaining(account)), D(0))) == cached


@pytest.mark.django_db(transaction=True)
def test_a_limit_holds_when_receipts_of_one_client_arrive_at_once(program, anna, ticket):
    limit = PurchaseLimit.objects.create(program=program, name="Три чека в день", measure="receipts",
                                         max_value=D(3), period="day")
    limit.products.add(ticket)

    def buy(i: int) -> None:
        receipt_confirm(request(program, anna, [(ticket, D(1), D(100))], f"C-{i}"))

    errors = run_at_once(8, buy)
    assert Receipt.objects.filter(contact=anna).count() == 3
    assert len(errors) == 5 and all(isinstance(e, ReceiptRefused) for e in errors)


@pytest.mark.django_db(transaction=True)
def test_a_single_use_code_is_used_once_when_clients_race_for_it(program, ticket):
    PromoCode.objects.create(program=program, code="ONCE", name="Один раз", discount_amount=D(50), max_uses=1)
    clients = [Contact.objects.create(first_name=f"Клиент {i}") for i in range(6)]

    def buy(i: int) -> None:
        receipt_confirm(request(program, clients[i], [(ticket, D(1), D(500))], f"O-{i}", promo_codes=("ONCE",)))

    errors = run_at_once(6, buy)
    assert PromoUse.objects.count() == 1 and PromoCode.objects.get().uses == 1
    assert len(errors) == 5 and all(isinstance(e, ReceiptRefused) for e in errors)
