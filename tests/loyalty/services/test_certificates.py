"""Gift certificates: issued once per key with a readable code and the type's amount rules;
in a receipt they pay for the lines their type covers (after discounts and earlier
certificates), refuse with a reason a cashier can read, are spent once per receipt and
given back once on a refund; the balance never goes below zero."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from hub.models import Contact, Product, ProductCategory
from loyalty.models import Certificate, CertificateOperation, CertificateType, Program, Receipt
from loyalty.services.certificates import (
    CODE_ALPHABET,
    certificate_block,
    certificate_issue,
    certificates_apply,
    certificates_record,
    certificates_release,
)
from loyalty.services.context import context_build
from loyalty.services.ledger import program_default
from loyalty.services.receipts import ReceiptRefused, ReceiptRequest, receipt_confirm, receipt_refund

pytestmark = pytest.mark.django_db
D = Decimal
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    """Receipts are confirmed within a day of being made: the clock stands with them."""
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield


@pytest.fixture
def program():
    return program_default()


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна", phone="+79990000001")


@pytest.fixture
def spa_category():
    return ProductCategory.objects.create(name="СПА")


@pytest.fixture
def massage(spa_category):
    sub = ProductCategory.objects.create(name="Массаж", parent=spa_category)  # covered through its parent
    return Product.objects.create(name="Массаж спины", category=sub, base_price=D(3000))


@pytest.fixture
def ticket():
    return Product.objects.create(name="Билет", base_price=D(1000))


@pytest.fixture
def fixed(program):
    return CertificateType.objects.create(program=program, name="Подарок 1000", amount=D(1000), valid_days=30)


@pytest.fixture
def open_type(program):
    return CertificateType.objects.create(program=program, name="На любую сумму", min_amount=D(500),
                                          max_amount=D(10000))


@pytest.fixture
def spa(program, spa_category):
    kind = CertificateType.objects.create(program=program, name="СПА-сертификат", amount=D(5000))
    kind.categories.add(spa_category)
    return kind


def ctx_for(program, contact, lines, at=NOW):
    return context_build(program, contact, lines, at, ref="R-1")


# issuing ---------------------------------------------------------------------------------
def test_a_fixed_certificate_is_issued_once_per_key_with_a_readable_code(fixed, anna):
    certificate = certificate_issue(fixed, key="sale:1", contact=anna, now=NOW)
    assert len(certificate.code) == 12 and set(certificate.code) <= set(CODE_ALPHABET)
    assert not set(certificate.code) & set("0O1I")
    assert (certificate.amount, certificate.balance, certificate.contact) == (D(1000), D(1000), anna)
    assert certificate.valid_until == NOW + dt.timedelta(days=30)
    assert certificate_issue(fixed, key="sale:1", contact=anna, now=NOW).pk == certificate.pk
    operation = CertificateOperation.objects.get()
    assert (operation.certificate, operation.amount, operation.idempotency_key) == (certificate, D(1000), "sale:1")
    assert certificate_issue(fixed, key="sale:2", amount="1000.00").code != certificate.code


@pytest.mark.parametrize(("kind", "amount", "expected"), [
    ("fixed", None, D(1000)),
    ("fixed", "1000", D(1000)),
    ("fixed", "900", "только на 1000"),
    ("open", None, "Укажите сумму"),
    ("open", "499.99", "от 500.00 ₽ до 10000.00 ₽"),
    ("open", "10000.01", "от 500.00 ₽ до 10000.00 ₽"),
    ("open", "500", D(500)),
    ("open", "2500.50", D("2500.50")),
    ("open", "10000", D(10000)),
])
def test_issue_amount_rules(fixed, open_type, kind, amount, expected):
    kind = fixed if kind == "fixed" else open_type
    if isinstance(expected, str):
        with pytest.raises(ValidationError, match=re.escape(expected)):
            certificate_issue(kind, key="k", amount=amount)
        assert not Certificate.objects.exists()
    else:
        assert certificate_issue(kind, key="k", amount=amount).balance == expected


def test_an_inactive_type_is_not_issued(fixed):
    fixed.active = False
    fixed.save()
    with pytest.raises(ValidationError, match="больше не выпускаются"):
        certificate_issue(fixed, key="k")


# applying --------------------------------------------------------------------------------
def _other_program_certificate(fixed):
    other = Program.objects.create(code="other", name="Другая")
    kind = CertificateType.objects.create(program=other, name="Чужой", amount=D(100))
    return certificate_issue(kind, key="other", now=NOW).code


def _blocked(fixed):
    return certificate_block(certificate_issue(fixed, key="b", now=NOW)).code


def _inactive(fixed):
    code = certificate_issue(fixed, key="i", now=NOW).code
    CertificateType.objects.filter(pk=fixed.pk).update(active=False)
    return code


def _expired(fixed):
    return certificate_issue(fixed, key="e", now=NOW - dt.timedelta(days=30)).code  # valid_until == NOW


def _empty(fixed):
    certificate = certificate_issue(fixed, key="z", now=NOW)
    Certificate.objects.filter(pk=certificate.pk).update(balance=0)
    return certificate.code


@pytest.mark.parametrize(("make", "reason"), [
    (lambda fixed: "ABCDEFGHJKLM", "Сертификат ABCDEFGHJKLM не найден."),
    (_other_program_certificate, "выпущен в другой программе"),
    (_blocked, "заблокирован"),
    (_inactive, "Сертификаты «Подарок 1000» больше не принимаются."),
    (_expired, "истёк 10.03.2026"),
    (_empty, "не осталось денег"),
])
def test_certificate_refusals(program, anna, ticket, fixed, make, reason):
    code = make(fixed)
    ctx = ctx_for(program, anna, [(ticket, D(1), D(1000))])
    certificates_apply(ctx, [code])
    assert ctx.certificates == []
    assert [(r.kind, r.ref) for r in ctx.refusals] == [("certificate", code)]
    assert reason in ctx.refusals[0].reason
    assert ctx.trace[-1].applied is False and reason in ctx.trace[-1].text


def test_a_certificate_pays_only_for_the_lines_its_type_covers(program, anna, ticket, massage, spa):
    code = certificate_issue(spa, key="s", now=NOW).code
    ctx = ctx_for(program, anna, [(ticket, D(1), D(1000))])
    certificates_apply(ctx, [code])
    assert ctx.refusals[0].reason == (f"Сертификат {code} действует только на: СПА; таких позиций в чеке нет.")
    ctx = ctx_for(program, anna, [(ticket, D(1), D(1000)), (massage, D(1), D(3000))])
    ctx.lines[1].discount = D(500)  # a promo code took 500 off the massage before
    certificates_apply(ctx, [f" {code.lower()[:4]}-{code.lower()[4:]} "])  # typed loosely
    assert not ctx.refusals
    (applied,) = ctx.certificates
    assert (applied.certificate.code, applied.amount) == (code, D(2500))  # the massage after the discount
    assert "оплачено 2500.00 ₽ (действует на: СПА)" in ctx.trace[-1].text
    assert "останется 2500.00 ₽" in ctx.trace[-1].text


def test_several_certificates_pay_what_is_left_in_order(program, anna, ticket, massage, fixed, spa):
    small = certificate_issue(fixed, key="f", now=NOW).code
    big = certificate_issue(spa, key="s", now=NOW).code
    third = certificate_issue(fixed, key="g", now=NOW).code
    ctx = ctx_for(program, anna, [(ticket, D(1), D(800)), (massage, D(1), D(3000))])
    certificates_apply(ctx, [small, big, small, third], lock=True)
    # the first (any line) takes 800 of the ticket and 200 of the massage; the SPA one the
    # remaining 2800 of the massage; nothing is left for the third
    assert [(a.certificate.code, a.amount) for a in ctx.certificates] == [(small, D(1000)), (big, D(2800))]
    assert [r.ref for r in ctx.refusals] == [third] and "уже оплачены" in ctx.refusals[0].reason


def test_record_spends_once_and_release_gives_back_once(program, anna, ticket, fixed):
    certificate = certificate_issue(fixed, key="f", now=NOW)
    ctx = ctx_for(program, anna, [(ticket, D(1), D(600))])
    certificates_apply(ctx, [certificate.code])
    receipt = Receipt.objects.create(program=program, contact=anna, ref="R-1", at=NOW, certificates=D(600))
    certificates_record(ctx, receipt)
    certificates_record(ctx, receipt)  # retried
    certificate.refresh_from_db()
    assert certificate.balance == D(400)
    spent = CertificateOperation.objects.get(amount__lt=0)
    assert (spent.amount, spent.idempotency_key, spent.receipt) == (
        D(-600), f"receipt:{receipt.pk}:certificate:{certificate.pk}", receipt)
    certificates_release(receipt)
    certificates_release(receipt)
    certificate.refresh_from_db()
    assert certificate.balance == D(1000)
    assert CertificateOperation.objects.get(idempotency_key=f"{spent.idempotency_key}:refund").amount == D(600)
    assert CertificateOperation.objects.count() == 3  # issue, spend, refund


def test_the_balance_never_goes_below_zero(program, anna, ticket, fixed):
    """Two receipts evaluated without a lock both see the whole balance: the second write is refused."""
    certificate = certificate_issue(fixed, key="f", now=NOW)
    first, second = (ctx_for(program, anna, [(ticket, D(1), D(1000))]) for _ in range(2))
    for ctx in (first, second):
        certificates_apply(ctx, [certificate.code])
    one = Receipt.objects.create(program=program, contact=anna, ref="R-1", at=NOW)
    two = Receipt.objects.create(program=program, contact=anna, ref="R-2", at=NOW)
    certificates_record(first, one)
    with pytest.raises(ValidationError, match="недостаточно денег"):
        certificates_record(second, two)
    certificate.refresh_from_db()
    assert certificate.balance == 0
    assert not CertificateOperation.objects.filter(receipt=two).exists()


def test_confirm_pays_by_certificate_and_refund_gives_it_back(program, anna, ticket, fixed):
    program.earn_percent = D(10)
    program.save()
    certificate = certificate_issue(fixed, key="f", now=NOW)
    lines = [(ticket, D(2), D(1500))]
    receipt = receipt_confirm(ReceiptRequest(program=program, contact=anna, lines=lines, ref="O-1", at=NOW,
                                             certificate_codes=(certificate.code,)))
    certificate.refresh_from_db()
    assert (receipt.certificates, receipt.paid, certificate.balance) == (D(1000), D(500), D(0))
    with pytest.raises(ReceiptRefused, match="не осталось денег"):
        receipt_confirm(ReceiptRequest(program=program, contact=anna, lines=lines, ref="O-2", at=NOW,
                                       certificate_codes=(certificate.code,)))
    receipt_refund(program, "O-1")
    receipt_refund(program, "O-1")
    certificate.refresh_from_db()
    assert certificate.balance == D(1000)
