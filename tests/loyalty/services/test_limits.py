"""Purchase limits: each measure over each period, with the period's edges in the program's
time zone (Moscow), and what is history: this client's paid receipts in this program under
the same products or categories (subcategories included), not refunds, not this very order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from hub.models import Contact, Product, ProductCategory
from loyalty.models import Program, PurchaseLimit, Receipt, ReceiptLine
from loyalty.services.context import context_build
from loyalty.services.ledger import program_default
from loyalty.services.limits import limits_check

pytestmark = pytest.mark.django_db
D = Decimal
MSK = ZoneInfo("Europe/Moscow")


def msk(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


@pytest.fixture
def program():
    return program_default()


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна")


@pytest.fixture
def shop():
    tickets = ProductCategory.objects.create(name="Билеты")
    kids = ProductCategory.objects.create(name="Детские", parent=tickets)
    food = ProductCategory.objects.create(name="Еда")
    return {"tickets": tickets, "kids": kids, "food": food,
            "adult": Product.objects.create(name="Взрослый", category=tickets),
            "child": Product.objects.create(name="Детский", category=kids),
            "pizza": Product.objects.create(name="Пицца", category=food),
            "loose": Product.objects.create(name="Без категории")}


def limit_of(program, name="Лимит", *, products=(), categories=(), **fields):
    limit = PurchaseLimit.objects.create(program=program, name=name, **fields)
    limit.products.set(products)
    limit.categories.set(categories)
    return limit


def paid(program, contact, at, lines, *, ref=None, status=Receipt.Status.PAID):
    """A receipt in the history; ``lines``: (product, quantity, amount, discount)."""
    receipt = Receipt.objects.create(program=program, contact=contact, ref=ref or f"H-{Receipt.objects.count()}",
                                     at=at, status=status)
    ReceiptLine.objects.bulk_create([
        ReceiptLine(receipt=receipt, product=product, category=product.category if product else None,
                    quantity=D(qty), amount=D(amount), discount=D(discount))
        for product, qty, amount, discount in lines])
    return receipt


def check(program, contact, lines, at, ref="NOW"):
    ctx = context_build(program, contact, [(product, D(qty), D(amount)) for product, qty, amount in lines], at,
                        ref=ref)
    limits_check(ctx)
    return ctx


# Each period: the receipt's time, a time just inside the period and one just before it (which
# UTC would put on the wrong side of the edge: Moscow is UTC+3).
PERIODS = {
    "day": (msk(2025, 6, 2, 0, 30), msk(2025, 6, 2, 0, 10), msk(2025, 6, 1, 23, 50), None),
    "week": (msk(2025, 6, 4, 12, 0), msk(2025, 6, 2, 0, 10), msk(2025, 6, 1, 23, 50), None),  # Wed; Mon 00:00
    "month": (msk(2025, 7, 15, 12, 0), msk(2025, 7, 1, 0, 10), msk(2025, 6, 30, 23, 50), None),
    "rolling": (msk(2025, 6, 4, 12, 0), msk(2025, 5, 28, 13, 0), msk(2025, 5, 28, 11, 0), 7),
}
# Each measure: what the history line inside counts, what this receipt adds, the unit as shown.
MEASURES = {
    "receipts": (D(1), D(1), lambda n: f"{n} {'чек' if n == 1 else 'чека'}"),
    "quantity": (D(2), D(1), lambda n: f"{n} шт."),
    "amount": (D(200), D(500), lambda n: f"{n} ₽"),
}
PERIOD_TEXT = {"day": "в день", "week": "в неделю", "month": "в месяц", "rolling": "за 7 дней"}


@pytest.mark.parametrize("period", sorted(PERIODS))
@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_each_measure_over_each_period(program, anna, shop, measure, period):
    at, inside, before, days = PERIODS[period]
    used, adds, unit = MEASURES[measure]
    for when in (inside, before, at + dt.timedelta(minutes=1)):  # before the period, and after this receipt
        paid(program, anna, when, [(shop["child"], 2, 300, 100)])  # 2 items for 200 net
    limit = limit_of(program, "Билеты", measure=measure, period=period, days=days, max_value=used + adds,
                     categories=[shop["tickets"]])
    ctx = check(program, anna, [(shop["adult"], 1, 500), (shop["pizza"], 3, 900)], at)
    assert ctx.refusals == []
    step = ctx.trace[-1]
    cap, total = (int(used + adds), int(used)), int(used + adds)
    assert (step.source, step.applied, step.ref) == ("limit", True, limit.pk)
    assert step.text.replace("\u00a0", " ") == (
        f"Лимит «Билеты»: в пределах лимита — максимум {unit(cap[0])} {PERIOD_TEXT[period]}, "
        f"уже было {unit(cap[1])}, с этим чеком {unit(total)}".rstrip(".") + ".")
    limit.max_value -= 1
    limit.save()
    over = check(program, anna, [(shop["adult"], 1, 500), (shop["pizza"], 3, 900)], at)
    [refusal] = over.refusals
    assert (refusal.kind, refusal.ref) == ("limit", str(limit.pk))
    added = f"этот был бы {int(used) + 1}-м" if measure == "receipts" else f"в этом чеке {unit(int(adds))}"
    expected = (f"Лимит «Билеты»: максимум {unit(int(used + adds) - 1)} {PERIOD_TEXT[period]}. "
                f"Уже было {unit(int(used))}, {added}")
    assert refusal.reason.replace("\u00a0", " ") == expected + ("" if expected.endswith(".") else ".")


def test_the_message_a_cashier_reads(program, anna, shop):
    at = msk(2025, 6, 2, 15, 0)
    paid(program, anna, msk(2025, 6, 2, 10, 0), [(shop["adult"], 2, 2000, 0)])
    limit_of(program, "2 билета в день", measure="quantity", period="day", max_value=2, products=[shop["adult"]])
    ctx = check(program, anna, [(shop["adult"], 1, 1000)], at)
    assert ctx.refusals[0].reason == "Лимит «2 билета в день»: максимум 2 шт. в день. Уже было 2 шт., в этом чеке 1 шт."


def test_week_and_month_edges_in_moscow(program, anna, shop):
    limit_of(program, "Неделя", measure="receipts", period="week", max_value=1)
    limit_of(program, "Месяц", measure="receipts", period="month", max_value=1)
    paid(program, anna, msk(2025, 8, 31, 23, 59), [(shop["adult"], 1, 100, 0)])  # Sunday, the last of August
    monday_first = msk(2025, 9, 1, 0, 0)  # Monday, the 1st: a new week and a new month at once
    assert check(program, anna, [(shop["adult"], 1, 100)], monday_first).refusals == []
    assert len(check(program, anna, [(shop["adult"], 1, 100)], msk(2025, 8, 31, 23, 59, 30)).refusals) == 2


def test_history_is_only_this_clients_paid_receipts_in_this_program_not_this_order(program, anna, shop):
    at = msk(2025, 6, 2, 15, 0)
    morning = msk(2025, 6, 2, 10, 0)
    oleg = Contact.objects.create(first_name="Олег")
    kids_club = Program.objects.create(code="kids", name="Детский клуб")
    paid(program, anna, morning, [(shop["adult"], 1, 100, 0)], status=Receipt.Status.REFUNDED)
    paid(program, anna, morning, [(shop["adult"], 5, 500, 0)], ref="NOW")  # this order, confirmed before
    paid(program, oleg, morning, [(shop["adult"], 1, 100, 0)])
    paid(kids_club, anna, morning, [(shop["adult"], 1, 100, 0)])
    paid(program, anna, morning, [(shop["pizza"], 1, 100, 0)])  # not under the limit
    limit_of(program, "Один билет", measure="quantity", period="day", max_value=1, categories=[shop["tickets"]])
    assert check(program, anna, [(shop["adult"], 1, 100)], at, ref="NOW").refusals == []
    paid(program, anna, morning, [(shop["child"], 1, 100, 0)])  # a subcategory counts
    assert len(check(program, anna, [(shop["adult"], 1, 100)], at, ref="NOW").refusals) == 1


def test_a_history_line_without_its_own_category_falls_back_to_the_product(program, anna, shop):
    receipt = paid(program, anna, msk(2025, 6, 2, 10, 0), [(shop["child"], 1, 100, 0)])
    ReceiptLine.objects.filter(receipt=receipt).update(category=None)
    limit_of(program, "Один билет", measure="quantity", period="day", max_value=1, categories=[shop["tickets"]])
    assert len(check(program, anna, [(shop["adult"], 1, 100)], msk(2025, 6, 2, 15, 0)).refusals) == 1


def test_receipts_count_once_each_and_amounts_count_net(program, anna, shop):
    at = msk(2025, 6, 2, 15, 0)
    paid(program, anna, msk(2025, 6, 2, 10, 0), [(shop["adult"], 1, 300, 100), (shop["child"], 1, 300, 50)])
    receipts = limit_of(program, "Чеки", measure="receipts", period="day", max_value=2)
    amount = limit_of(program, "Сумма", measure="amount", period="day", max_value=D("950.00"),
                      categories=[shop["tickets"]])
    ctx = check(program, anna, [(shop["adult"], 2, 500), (shop["loose"], 1, 100)], at)
    texts = {step.ref: step.text.replace("\u00a0", " ") for step in ctx.trace}
    assert ctx.refusals == []
    assert "уже было 1 чек, с этим чеком 2 чека" in texts[receipts.pk]
    assert "уже было 450 ₽, с этим чеком 950 ₽" in texts[amount.pk]  # 450 net before; the loose line is not under it


def test_a_limit_on_lines_not_in_the_receipt_or_inactive_says_nothing(program, anna, shop):
    limit_of(program, "Еда", measure="quantity", period="day", max_value=1, categories=[shop["food"]])
    limit_of(program, "Выключен", measure="quantity", period="day", max_value=1, active=False)
    ctx = check(program, anna, [(shop["adult"], 5, 500)], msk(2025, 6, 2, 15, 0))
    assert ctx.refusals == [] and ctx.trace == []


def test_every_limit_is_counted_in_one_query(program, anna, shop, django_assert_num_queries):
    at = msk(2025, 6, 2, 15, 0)
    limit_of(program, "A", measure="quantity", period="day", max_value=10, categories=[shop["tickets"]])
    limit_of(program, "B", measure="amount", period="month", max_value=10000, products=[shop["adult"]])
    limit_of(program, "C", measure="receipts", period="rolling", days=30, max_value=10)
    limit_of(program, "D", measure="receipts", period="week", max_value=10, categories=[shop["kids"]])
    ctx = context_build(program, anna, [(shop["adult"], D(1), D(100)), (shop["child"], D(1), D(100))], at)
    # the limits, their products, their categories, the category tree, the history: 5 however many limits
    with django_assert_num_queries(5):
        limits_check(ctx)
    assert [step.name for step in ctx.trace] == ["A", "B", "C", "D"]
