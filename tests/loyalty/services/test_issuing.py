"""Certificates and subscriptions sold as products: one per unit to the buyer, the same
ones however often the receipt is recorded again; a refund blocks the untouched ones and
leaves the used ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.models import Contact, Product, Purchase, ServicePoint
from hub.services.connections import connection_upsert
from hub.services.sales import LineData, pass_record, purchase_record
from loyalty.models import Certificate, CertificateType, Subscription, SubscriptionPlan
from loyalty.services.certificates import certificate_issue
from loyalty.services.ledger import program_default

pytestmark = pytest.mark.django_db
D = Decimal
SOLD = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def cashdesk():
    connection, _ = connection_upsert(name="Касса", system="webhook", base_url="http://127.0.0.1:9")
    return connection


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна", phone="+79990000001")


@pytest.fixture
def gift():
    """A fixed 1000 certificate, sold as its own product."""
    product = Product.objects.create(name="Сертификат 1000", kind="goods", base_price=D(1000))
    CertificateType.objects.create(program=program_default(), name="Подарок 1000", amount=D(1000), sold_as=product,
                                   valid_days=90)
    return product


@pytest.fixture
def open_gift():
    product = Product.objects.create(name="Сертификат на сумму", kind="goods")
    CertificateType.objects.create(program=program_default(), name="На сумму", min_amount=D(500),
                                   max_amount=D(5000), sold_as=product)
    return product


@pytest.fixture
def pool():
    return ServicePoint.objects.create(name="Бассейн")


@pytest.fixture
def pass_product(pool):
    product = Product.objects.create(name="Абонемент 8 занятий", kind="service", base_price=D(4000))
    plan = SubscriptionPlan.objects.create(name="8 занятий", kind="visits", visits=8, days=60, sold_as=product)
    plan.service_points.add(pool)
    return product


def record(cashdesk, contact, lines, status=Purchase.Status.PAID, external_id="R-1"):
    purchase, _ = purchase_record(purchased_at=SOLD, contact=contact, lines=lines, number=external_id, status=status,
                                  connection=cashdesk, external_id=external_id)
    return purchase


def test_one_certificate_per_unit_surviving_re_recording(cashdesk, anna, gift, open_gift):
    ticket = Product.objects.create(name="Билет", base_price=D(500))
    lines = [LineData(product=gift, quantity=D(2), price=D(1000)), LineData(product=ticket, price=D(500)),
             LineData(product=gift, price=D(1000)), LineData(product=open_gift, price=D("2500.50"))]
    purchase = record(cashdesk, anna, lines)
    record(cashdesk, anna, lines)  # the same receipt again: its lines are new rows now
    record(cashdesk, anna, lines)
    rows = list(Certificate.objects.order_by("issue_key"))
    assert [c.issue_key for c in rows] == [f"purchase:{purchase.pk}:{gift.pk}:{n}" for n in (1, 2, 3)] + [
        f"purchase:{purchase.pk}:{open_gift.pk}:1"]
    assert [c.amount for c in rows] == [D(1000), D(1000), D(1000), D("2500.50")]
    assert {c.contact for c in rows} == {anna} and len({c.code for c in rows}) == 4
    assert rows[0].valid_until == SOLD + dt.timedelta(days=90)


def test_a_sold_subscription_is_issued_per_unit_from_the_day_of_sale(cashdesk, anna, pass_product):
    purchase = record(cashdesk, anna, [LineData(product=pass_product, quantity=D(2), price=D(4000))])
    record(cashdesk, anna, [LineData(product=pass_product, quantity=D(2), price=D(4000))])
    rows = list(Subscription.objects.order_by("issue_key"))
    assert [s.issue_key for s in rows] == [f"purchase:{purchase.pk}:{pass_product.pk}:{n}" for n in (1, 2)]
    assert {(s.contact, s.starts_on, s.ends_on, s.visits_left) for s in rows} == {
        (anna, dt.date(2026, 3, 10), dt.date(2026, 5, 8), 8)}


def test_what_cannot_be_issued_does_not_stop_the_purchase(cashdesk, gift, open_gift, pass_product):
    """No buyer: a certificate still (to whoever holds the code), a subscription not; an open
    amount outside the type's bounds is logged, not issued."""
    purchase = record(cashdesk, None, [LineData(product=gift, price=D(1000)), LineData(product=pass_product,
                                                                                       price=D(4000)),
                                       LineData(product=open_gift, price=D(100))])
    assert Purchase.objects.filter(pk=purchase.pk).exists()
    assert list(Certificate.objects.values_list("issue_key", "contact")) == [(f"purchase:{purchase.pk}:{gift.pk}:1",
                                                                              None)]
    assert not Subscription.objects.exists()


def test_an_inactive_type_or_plan_is_not_issued(cashdesk, anna, gift, pass_product):
    CertificateType.objects.update(active=False)
    SubscriptionPlan.objects.update(active=False)
    record(cashdesk, anna, [LineData(product=gift, price=D(1000)), LineData(product=pass_product, price=D(4000))])
    assert not Certificate.objects.exists() and not Subscription.objects.exists()


def test_a_refund_blocks_untouched_certificates_and_cancels_unused_subscriptions(cashdesk, anna, gift, pool,
                                                                                 pass_product):
    lines = [LineData(product=gift, quantity=D(2), price=D(1000)),
             LineData(product=pass_product, quantity=D(2), price=D(4000))]
    record(cashdesk, anna, lines)
    used_certificate, untouched_certificate = Certificate.objects.order_by("issue_key")
    Certificate.objects.filter(pk=used_certificate.pk).update(balance=D(300))
    pass_record(passed_at=SOLD + dt.timedelta(days=1), contact=anna, service_point=pool)  # uses the first one
    used_subscription, unused_subscription = Subscription.objects.order_by("ends_on", "pk")
    assert used_subscription.visit_rows.count() == 1
    record(cashdesk, anna, lines, status=Purchase.Status.REFUNDED)
    record(cashdesk, anna, lines, status=Purchase.Status.REFUNDED)  # told twice
    statuses = dict(Certificate.objects.values_list("pk", "status"))
    assert statuses == {used_certificate.pk: "active", untouched_certificate.pk: "blocked"}
    assert dict(Subscription.objects.values_list("pk", "status")) == {used_subscription.pk: "active",
                                                                      unused_subscription.pk: "cancelled"}
    assert Certificate.objects.count() == 2 and Subscription.objects.count() == 2  # nothing issued anew


def test_other_purchases_are_not_touched_by_a_refund(cashdesk, anna, gift):
    """Purchase 1's keys are a prefix of purchase 15's but for the colon."""
    first = record(cashdesk, anna, [LineData(product=gift, price=D(1000))], external_id="A")
    kind = CertificateType.objects.get()
    other = certificate_issue(kind, key=f"purchase:{first.pk}5:{gift.pk}:1", contact=anna)
    record(cashdesk, anna, [LineData(product=gift, price=D(1000))], status=Purchase.Status.REFUNDED,
           external_id="A")
    assert list(Certificate.objects.filter(status="blocked").values_list("issue_key", flat=True)) == [
        f"purchase:{first.pk}:{gift.pk}:1"]
    other.refresh_from_db()
    assert other.status == "active"
