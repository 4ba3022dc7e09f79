"""Levels: the metric (points earned or money spent in the window, refunds excluded), the
level it reaches, promotion at once after a receipt, a downgrade only from the daily check
after the grace period, the history of changes, and a daily job whose queries do not grow
with the number of clients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import Contact, Product, ProductCategory
from hub.services.connections import connection_upsert
from loyalty.models import Account, Entry, Program, Receipt, ReceiptLine, Tier, TierChange
from loyalty.services.ledger import ledger_adjust, ledger_earn, ledger_refund
from loyalty.services.tiers import (
    on_receipt_changed,
    tier_for,
    tier_metric,
    tier_recompute,
    tier_redeem_share,
    tiers_daily,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def day(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


def clock(moment: dt.datetime) -> mock._patch:
    return mock.patch("django.utils.timezone.now", return_value=moment)


@pytest.fixture
def program() -> Program:
    program = Program.objects.create(code="park", name="Парк", tier_window_days=30, tier_grace_days=10,
                                     max_redeem_share=Decimal(50))
    Tier.objects.create(program=program, name="Бронза", threshold=Decimal(100))
    Tier.objects.create(program=program, name="Серебро", threshold=Decimal(500), max_redeem_share=Decimal(70))
    Tier.objects.create(program=program, name="Золото", threshold=Decimal(1000))
    return program


def tier(program: Program, name: str) -> Tier:
    return program.tiers.get(name=name)


def earn(program: Program, contact: Contact, points: int, when: dt.datetime, key: str, **kwargs: str) -> Entry:
    with clock(when):
        return ledger_earn(contact, points, reason="покупка", source=kwargs.pop("source", "campaign"),
                           idempotency_key=key, program=program, **kwargs)


def paid_receipt(program: Program, contact: Contact, when: dt.datetime, ref: str,
                 lines: list[tuple[Product | None, int, int]], status: str = "paid") -> Receipt:
    receipt = Receipt.objects.create(program=program, contact=contact, ref=ref, at=when, status=status)
    ReceiptLine.objects.bulk_create([
        ReceiptLine(receipt=receipt, product=product, category=product.category if product else None,
                    amount=Decimal(amount), discount=Decimal(discount)) for product, amount, discount in lines])
    return receipt


# --- the metric ---------------------------------------------------------------------------------------


def test_points_metric_counts_earns_in_the_window_and_not_those_of_refunded_purchases(program):
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 300, day(-31), "old")  # before the window
    earn(program, anna, 200, day(-10), "kept")
    earn(program, anna, 150, day(-5), "returned")
    with clock(day(-4)):
        ledger_refund("returned", reason="возврат", idempotency_key="returned:refund")
    # points of a purchase spent before its refund: nothing left to reverse, the refunded receipt still excludes it
    earn(program, anna, 80, day(-3), "order:R-1:earn", source="purchase", source_ref="R-1")
    Receipt.objects.create(program=program, contact=anna, ref="R-1", at=day(-3), status="refunded")
    earn(program, anna, 70, day(-2), "purchase:77", source="purchase", source_ref="77")
    Receipt.objects.create(program=program, contact=anna, ref="purchase:77", at=day(-2), status="refunded")
    earn(program, anna, 40, day(-1), "order:R-2:earn", source="purchase", source_ref="R-2")
    Receipt.objects.create(program=program, contact=anna, ref="R-2", at=day(-1))  # paid: counts
    with clock(day(-1)):
        ledger_adjust(anna, 500, reason="подарок", idempotency_key="gift", program=program)  # not earned
    earn(program, anna, 60, day(1), "later")  # after "now"
    account = Account.objects.get(contact=anna, program=program)
    assert tier_metric(account, T0) == Decimal(240)
    assert tiers_daily(T0) == 1  # the daily aggregate counts the same
    account.refresh_from_db()
    assert (account.tier_value, account.tier) == (Decimal(240), tier(program, "Бронза"))


@pytest.mark.parametrize(("kind", "category", "expected"), [
    ("", None, 1700),  # (1000 - 100) + 500 + 200 + 100 (a line without a product)
    ("goods", None, 700),
    ("", "Еда", 700),  # the pizza's and the juice's categories are under "Еда"
    ("", "Напитки", 200),
    ("ticket", "Еда", 0),
])
def test_spend_metric_counts_paid_receipts_in_the_window_by_product_type_and_category(program, kind, category,
                                                                                      expected):
    food = ProductCategory.objects.create(name="Еда")
    drinks = ProductCategory.objects.create(name="Напитки", parent=food)
    pizza_cat = ProductCategory.objects.create(name="Пицца", parent=food)
    ticket = Product.objects.create(name="Билет", kind="ticket")
    pizza = Product.objects.create(name="Пицца", kind="goods", category=pizza_cat)
    juice = Product.objects.create(name="Сок", kind="goods", category=drinks)
    program.tier_metric, program.tier_product_kind = "spend", kind
    program.tier_category = ProductCategory.objects.get(name=category) if category else None
    program.save()
    anna, boris = Contact.objects.create(first_name="Анна"), Contact.objects.create(first_name="Борис")
    paid_receipt(program, anna, day(-2), "A-1", [(ticket, 1000, 100), (pizza, 500, 0), (juice, 200, 0),
                                                 (None, 100, 0)])
    paid_receipt(program, anna, day(-3), "A-2", [(pizza, 5000, 0)], status="refunded")
    paid_receipt(program, anna, day(-31), "A-3", [(pizza, 7000, 0)])  # before the window
    paid_receipt(program, boris, day(-1), "B-1", [(pizza, 9000, 0)])  # someone else
    account = Account.objects.create(contact=anna, program=program)
    Account.objects.create(contact=boris, program=program)
    assert tier_metric(account, T0) == Decimal(expected)
    tiers_daily(T0)
    account.refresh_from_db()
    assert account.tier_value == Decimal(expected)


@pytest.mark.parametrize(("value", "name"), [(0, None), (99.99, None), (100, "Бронза"), (999.99, "Серебро"),
                                             (1000, "Золото"), (10**6, "Золото")])
def test_the_level_is_the_highest_threshold_reached(program, value, name):
    found = tier_for(program, Decimal(str(value)))
    assert (found.name if found else None) == name


def test_the_redeem_share_is_the_levels_when_it_sets_one(program):
    assert tier_redeem_share(program, tier(program, "Серебро")) == Decimal(70)
    assert tier_redeem_share(program, tier(program, "Золото")) == Decimal(50)
    assert tier_redeem_share(program, None) == Decimal(50)


# --- promotion and downgrade ----------------------------------------------------------------------------


def test_a_receipt_promotes_at_once_and_each_change_is_kept(program):
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 600, day(0), "e1")
    receipt = Receipt.objects.create(program=program, contact=anna, ref="R-1", at=day(0))
    with clock(day(0)):
        on_receipt_changed(Receipt, receipt=receipt)  # receipt_confirmed's receiver (loyalty.apps)
    account = Account.objects.get(contact=anna)
    assert (account.tier, account.tier_since, account.tier_value) == (tier(program, "Серебро"), day(0), 600)
    earn(program, anna, 500, day(1), "e2")
    with clock(day(1)):
        on_receipt_changed(Receipt, receipt=receipt)
    changes = list(TierChange.objects.filter(account=account).order_by("changed_at"))
    assert [(c.from_tier, c.to_tier, c.value, c.changed_at) for c in changes] == [
        (None, tier(program, "Серебро"), Decimal(600), day(0)),
        (tier(program, "Серебро"), tier(program, "Золото"), Decimal(1100), day(1))]
    assert changes[0].reason == "Повышение до уровня «Серебро»: за 30 дн. начислено 600.00 баллов, порог 500.00."


def test_a_refund_takes_back_at_once_the_level_it_gave(program):
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 1200, day(0), "e1")
    account = Account.objects.get(contact=anna)
    tier_recompute(account, day(0))
    with clock(day(1)):
        ledger_refund("e1", reason="возврат", idempotency_key="e1:refund")
    receipt = Receipt.objects.create(program=program, contact=anna, ref="R-1", at=day(0), status="refunded")
    with clock(day(1)):
        on_receipt_changed(Receipt, receipt=receipt)  # receipt_refunded's too
    account.refresh_from_db()
    assert (account.tier, account.tier_value, account.tier_below_since) == (None, 0, None)
    assert TierChange.objects.count() == 2 and "после возврата" in TierChange.objects.first().reason


def test_a_downgrade_waits_out_the_grace_period_in_the_daily_job(program):
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 1200, day(0), "e1")
    earn(program, anna, 150, day(25), "e2")
    with clock(day(0)):
        assert tiers_daily() == 1  # a promotion the daily check finds is at once too
    account = Account.objects.get(contact=anna)
    with clock(day(31)):  # the 1200 left the window: 150 is Bronze's
        assert tiers_daily() == 0
    account.refresh_from_db()
    assert (account.tier, account.tier_value, account.tier_below_since) == (tier(program, "Золото"), 150, day(31))
    with clock(day(40.9)):
        assert tiers_daily() == 0
    account.refresh_from_db()
    assert (account.tier, account.tier_below_since) == (tier(program, "Золото"), day(31))  # the clock keeps running
    with clock(day(41)):
        assert tiers_daily() == 1
        assert tiers_daily() == 0  # run twice the same day: one change
    account.refresh_from_db()
    assert (account.tier, account.tier_since, account.tier_below_since) == (tier(program, "Бронза"), day(41), None)
    change = TierChange.objects.get(to_tier=tier(program, "Бронза"))
    assert (change.from_tier, change.value, change.changed_at) == (tier(program, "Золото"), Decimal(150), day(41))
    assert change.reason == ("Понижение до уровня «Бронза»: за 30 дн. начислено 150.00 баллов, ниже порога уровня "
                             "«Золото» (1000.00) 10 дн. и дольше.")
    with clock(day(56)):  # the 150 left too: the level goes after its own grace period
        tiers_daily()
    with clock(day(66)):
        assert tiers_daily() == 1
    assert TierChange.objects.filter(account=account).latest("changed_at").reason.startswith("Уровень «Бронза» снят")
    assert Account.objects.get(pk=account.pk).tier is None


def test_back_above_the_level_within_the_grace_period_stops_the_clock(program):
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 1200, day(0), "e1")
    tiers_daily(day(0))
    tiers_daily(day(31))  # below: the clock starts
    assert Account.objects.get(contact=anna).tier_below_since == day(31)
    earn(program, anna, 1000, day(35), "e2")
    receipt = Receipt.objects.create(program=program, contact=anna, ref="R-2", at=day(35))
    with clock(day(35)):
        on_receipt_changed(Receipt, receipt=receipt)
    assert Account.objects.get(contact=anna).tier_below_since is None
    assert tiers_daily(day(45)) == 0
    assert Account.objects.get(contact=anna).tier == tier(program, "Золото")


def test_without_a_grace_period_the_first_daily_check_downgrades(program):
    program.tier_grace_days = 0
    program.save()
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 600, day(0), "e1")
    tiers_daily(day(0))
    assert tiers_daily(day(31)) == 1
    account = Account.objects.get(contact=anna)
    assert (account.tier, account.tier_below_since) == (None, None)


def test_programs_with_an_external_ledger_and_inactive_programs_are_skipped(program):
    anna = Contact.objects.create(first_name="Анна")
    earn(program, anna, 600, day(0), "e1")
    account = Account.objects.get(contact=anna)
    program.active = False
    program.save()
    assert tiers_daily(day(0)) == 0
    external, _ = connection_upsert(name="SamoSale", system="webhook", base_url="http://127.0.0.1:9")
    program.active, program.connection = True, external
    program.save()
    account.refresh_from_db()
    assert tier_recompute(account, day(0)) is None and tiers_daily(day(0)) == 0
    receipt = Receipt.objects.create(program=program, contact=anna, ref="R-1", at=day(0))
    on_receipt_changed(Receipt, receipt=receipt)
    account.refresh_from_db()
    assert (account.tier, account.tier_value) == (None, 0) and not TierChange.objects.exists()


def test_a_receipt_of_a_client_without_an_account_opens_one_for_the_level(program):
    program.tier_metric = "spend"
    program.save()
    anna = Contact.objects.create(first_name="Анна")
    receipt = paid_receipt(program, anna, day(0), "R-1", [(None, 600, 0)])
    with clock(day(0)):
        on_receipt_changed(Receipt, receipt=receipt)
    assert Account.objects.get(contact=anna, program=program).tier == tier(program, "Серебро")


# --- the daily job at scale -------------------------------------------------------------------------------


def accounts_with_earns(program: Program, start: int, count: int) -> None:
    contacts = Contact.objects.bulk_create([Contact(first_name=f"К{n}") for n in range(start, start + count)])
    accounts = Account.objects.bulk_create([Account(contact=c, program=program) for c in contacts])
    with clock(day(-1)):
        Entry.objects.bulk_create([Entry(account=a, kind="earn", points=Decimal(50 * (n % 30)), reason="r",
                                         source="campaign", idempotency_key=f"bulk:{n}")
                                   for n, a in enumerate(accounts, start=start)])


def daily_queries(now: dt.datetime) -> int:
    with CaptureQueriesContext(connection) as queries:
        tiers_daily(now)
    return len(queries)


def test_the_daily_job_reads_in_aggregate_and_writes_only_what_changed(program):
    accounts_with_earns(program, 0, 5)
    tiers_daily(day(0))
    few = daily_queries(day(0))
    accounts_with_earns(program, 5, 60)
    assert tiers_daily(day(0)) > 0  # the new clients reach their levels
    assert daily_queries(day(0)) == few  # nothing changes: as many queries for 65 clients as for 5
    levels = dict(Account.objects.values_list("contact__first_name", "tier__name"))
    assert (levels["К1"], levels["К10"], levels["К20"], levels["К2"]) == (None, "Серебро", "Золото", "Бронза")
    # the window slides past the earns: every stored value changes, levels wait for their grace period
    assert tiers_daily(day(31)) == 0
    assert set(Account.objects.values_list("tier_value", flat=True)) == {Decimal(0)}
    assert Account.objects.filter(tier__isnull=False, tier_below_since=day(31)).count() == \
        Account.objects.filter(tier__isnull=False).count() > 0
