"""Earning on purchases by category rate, reversal on refund, and calculate → confirm."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.models import Contact, ProductCategory
from hub.services.catalog import product_upsert
from hub.services.connections import connection_upsert
from hub.services.sales import LineData, purchase_record
from loyalty.models import Account, CategoryRate, Entry
from loyalty.services.earning import OrderLine, order_calculate, order_confirm
from loyalty.services.ledger import ledger_earn, program_default

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = program_default()
    program.earn_percent, program.max_redeem_share = Decimal(5), Decimal(30)
    program.save()
    return program


@pytest.fixture
def food(program):
    food = ProductCategory.objects.create(name="Еда")
    CategoryRate.objects.create(program=program, category=food, percent=Decimal(10))
    return food


def test_a_receipt_earns_by_category_rate_once_and_a_refund_takes_it_back(program, food):
    source, _ = connection_upsert(name="Касса", system="webhook", base_url="http://127.0.0.1:9")
    anna = Contact.objects.create(first_name="Анна")
    pizza = product_upsert(name="Пицца", base_price="1000")
    pizza.category = ProductCategory.objects.create(name="Пицца", parent=food)  # the parent's rate applies
    pizza.save()
    ticket = product_upsert(name="Билет", base_price="2000")
    lines = [LineData(product=pizza, price=Decimal(1000)), LineData(product=ticket, price=Decimal(2000))]
    when = timezone.now()
    purchase, _ = purchase_record(purchased_at=when, contact=anna, lines=lines, number="R-1", connection=source,
                                  external_id="R-1")
    CategoryRate.objects.filter(category=food).update(percent=Decimal(20))  # rates change meanwhile
    purchase_record(purchased_at=when, contact=anna, lines=lines, number="R-1", connection=source,
                    external_id="R-1")  # the same receipt again: the first earn stands, no error
    assert list(Entry.objects.values_list("points", flat=True)) == [Decimal(200)]  # 10% of 1000 + 5% of 2000
    purchase_record(purchased_at=when, contact=anna, lines=lines, number="R-1", connection=source,
                    external_id="R-1", status="refunded")
    refund = Entry.objects.get(idempotency_key=f"purchase:{purchase.pk}:refund")
    assert refund.points == Decimal(-200) and Account.objects.get(contact=anna).balance == 0


def test_calculate_caps_points_by_the_share_and_confirm_is_idempotent(program, food):
    anna = Contact.objects.create(first_name="Анна")
    ledger_earn(anna, 5000, reason="старт", source="manual", idempotency_key="start")
    pizza = product_upsert(name="Пицца", base_price="1000")
    pizza.category = food
    pizza.save()
    lines = [OrderLine(pizza, Decimal(1000)), OrderLine(None, Decimal(1000))]
    quote = order_calculate(anna, lines)
    assert (quote.total, quote.max_points, quote.earn_points) == (Decimal(2000), Decimal(600), Decimal(150))
    with pytest.raises(ValidationError, match="не больше 600"):
        order_confirm(anna, "T-1", lines, 700)
    done = order_confirm(anna, "T-1", lines, 600)
    again = order_confirm(anna, "T-1", lines, 600)
    assert (again.redeemed.pk, again.earned.pk) == (done.redeemed.pk, done.earned.pk)
    assert done.redeemed.points == -600 and done.earned.points == Decimal("105.00")  # earned on the 70% paid
    assert Account.objects.get(contact=anna).balance == Decimal("4505.00")
