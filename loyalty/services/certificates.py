"""Gift certificates: issued once per key (a sale, an operator's form), spent in receipts on
the lines their type covers, given back on a refund. The balance moves only together with
an operation row under its own idempotency key, so a retried confirm or refund is a no-op."""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from hub.models import Contact
from hub.services.money import money
from loyalty.models import Certificate, CertificateOperation, CertificateType, Receipt
from loyalty.services.context import ZERO, AppliedCertificate, ReceiptContext
from loyalty.services.targeting import Target

log = logging.getLogger(__name__)

# No 0/O and 1/I: a code read over the phone or from a printed card is not misread.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CERTIFICATE_CODE_LENGTH = 12


def code_new(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def code_normalize(raw: str) -> str:
    """What a cashier types ('abcd-efgh jkmn') → 'ABCDEFGHJKMN'."""
    return re.sub(r"[\s\-_]", "", str(raw or "")).upper()


def _date(value: dt.datetime) -> str:
    return f"{timezone.localtime(value):%d.%m.%Y}"


def certificate_amount_check(type: CertificateType, amount: Decimal | str | int | None) -> Decimal:
    """The amount a certificate of this type is issued for: a fixed type's own (another
    amount refused), an open type's within its bounds."""
    if type.amount is not None:
        if amount not in (None, "") and money(amount) != type.amount:
            raise ValidationError({"amount": f"Сертификат «{type}» выпускается только на {money(type.amount)} ₽."})
        return money(type.amount)
    if amount in (None, ""):
        raise ValidationError({"amount": f"Укажите сумму сертификата «{type}»."})
    value = money(amount)
    low, high = type.min_amount, type.max_amount
    if value <= 0 or (low is not None and value < low) or (high is not None and value > high):
        bounds = " ".join(part for part in (f"от {money(low)} ₽" if low is not None else "",
                                            f"до {money(high)} ₽" if high is not None else "") if part)
        raise ValidationError({"amount": f"Сумма сертификата «{type}» должна быть {bounds or 'больше нуля'}."})
    return value


def certificate_issue(type: CertificateType, *, key: str, contact: Contact | None = None,
                      amount: Decimal | str | int | None = None, now: dt.datetime | None = None) -> Certificate:
    """A new certificate with a fresh code; the same ``key`` again returns the first one."""
    if (seen := Certificate.objects.filter(issue_key=key).first()) is not None:
        return seen
    if not type.active:
        raise ValidationError(f"Сертификаты «{type}» больше не выпускаются.")
    value = certificate_amount_check(type, amount)
    now = now or timezone.now()
    for _attempt in range(10):
        try:
            with transaction.atomic():
                certificate = Certificate.objects.create(
                    type=type, code=code_new(CERTIFICATE_CODE_LENGTH), amount=value, balance=value, contact=contact,
                    issued_at=now, valid_until=now + dt.timedelta(days=type.valid_days), issue_key=key)
                CertificateOperation.objects.create(certificate=certificate, amount=value, idempotency_key=key,
                                                    reason=f"Выпуск сертификата «{type}»")
            return certificate
        except IntegrityError:
            if (seen := Certificate.objects.filter(issue_key=key).first()) is not None:
                return seen  # issued by a concurrent call with the same key
            # else: the random code was taken; draw another
    raise ValidationError("Не удалось подобрать свободный код сертификата, попробуйте ещё раз.")


def certificate_block(certificate: Certificate) -> Certificate:
    """Blocked: no longer accepted anywhere (the balance stays, for the record)."""
    Certificate.objects.filter(pk=certificate.pk).update(status=Certificate.Status.BLOCKED)
    certificate.refresh_from_db()
    log.info("certificate %s blocked", certificate.pk)
    return certificate


def _covers(certificate: Certificate) -> str:
    kind = certificate.type
    names = [p.name for p in kind.products.all()] + [c.name for c in kind.categories.all()]
    text = ", ".join(names[:5]) + (" и др." if len(names) > 5 else "")
    return text or "все позиции"


def _refusal(certificate: Certificate | None, ctx: ReceiptContext, code: str) -> str:
    if certificate is None:
        return f"Сертификат {code} не найден."
    if certificate.type.program_id != ctx.program.pk:
        return f"Сертификат {code} выпущен в другой программе и здесь не принимается."
    if certificate.status == Certificate.Status.BLOCKED:
        return f"Сертификат {code} заблокирован."
    if not certificate.type.active:
        return f"Сертификаты «{certificate.type}» больше не принимаются."
    if certificate.valid_until <= ctx.at:
        return f"Срок действия сертификата {code} истёк {_date(certificate.valid_until)}."
    if certificate.balance <= 0:
        return f"На сертификате {code} не осталось денег."
    return ""


def certificates_apply(ctx: ReceiptContext, codes: list[str], *, lock: bool = False) -> None:
    """Each code pays for what is left (after discounts and the codes before it) of the lines
    its type covers, up to its balance. ``lock``: confirming — the certificates' rows are
    locked (in id order, so two receipts never deadlock) and their balances read under it."""
    wanted = list(dict.fromkeys(c for c in (code_normalize(raw) for raw in codes) if c))
    if not wanted:
        return
    rows = Certificate.objects.filter(code__in=wanted).select_related("type").prefetch_related(
        "type__products", "type__categories")
    if lock:
        rows = rows.select_for_update(of=("self",)).order_by("pk")
    found = {c.code: c for c in rows}
    left = {line.index: line.net for line in ctx.lines}  # what is still to be paid on each line
    for applied in ctx.certificates:  # certificates applied before (not expected, but keep the sums right)
        _take(ctx, Target.of(applied.certificate.type), left, applied.amount)
    for code in wanted:
        certificate = found.get(code)
        if reason := _refusal(certificate, ctx, code):
            ctx.refuse("certificate", code, reason)
            continue
        assert certificate is not None
        target = Target.of(certificate.type)
        covered = [line for line in ctx.lines if target.covers(line.product)]
        if not covered:
            ctx.refuse("certificate", code, f"Сертификат {code} действует только на: {_covers(certificate)}; "
                                            "таких позиций в чеке нет.")
            continue
        available = money(sum((left[line.index] for line in covered), ZERO))
        if available <= 0:
            ctx.refuse("certificate", code, f"Позиции, на которые действует сертификат {code}, уже оплачены.")
            continue
        amount = min(certificate.balance, available)
        _take(ctx, target, left, amount)
        ctx.certificates.append(AppliedCertificate(certificate=certificate, amount=amount))
        where = "" if target.everything else f" (действует на: {_covers(certificate)})"
        ctx.explain("certificate", code, f"Сертификат {code}: оплачено {amount} ₽{where}, "
                                         f"на сертификате останется {money(certificate.balance - amount)} ₽.",
                    ref=certificate.pk, money=amount)


def _take(ctx: ReceiptContext, target: Target, left: dict[int, Decimal], amount: Decimal) -> None:
    for line in ctx.lines:
        if amount <= 0:
            break
        if target.covers(line.product):
            part = min(left[line.index], amount)
            left[line.index] -= part
            amount -= part


def _key(receipt: Receipt, certificate: Certificate) -> str:
    return f"receipt:{receipt.pk}:certificate:{certificate.pk}"


def certificates_record(ctx: ReceiptContext, receipt: Receipt) -> None:
    """Write what the receipt takes from each certificate (once per receipt and certificate)."""
    with transaction.atomic():
        for applied in ctx.certificates:
            certificate, amount = applied.certificate, money(applied.amount)
            key = _key(receipt, certificate)
            if amount <= 0 or CertificateOperation.objects.filter(idempotency_key=key).exists():
                continue
            CertificateOperation.objects.create(certificate=certificate, amount=-amount, receipt=receipt,
                                                idempotency_key=key, reason=f"Оплата чека {receipt.ref}")
            try:
                with transaction.atomic():
                    Certificate.objects.filter(pk=certificate.pk).update(balance=F("balance") - amount)
            except IntegrityError as exc:  # the balance check: spent meanwhile (not under a lock)
                raise ValidationError(f"На сертификате {certificate.code} недостаточно денег.") from exc


def certificates_release(receipt: Receipt) -> None:
    """Give back to each certificate what this receipt took from it (once)."""
    with transaction.atomic():
        spent = CertificateOperation.objects.filter(receipt=receipt, amount__lt=0).order_by("certificate_id", "pk")
        for operation in spent:
            key = f"{operation.idempotency_key}:refund"
            if CertificateOperation.objects.filter(idempotency_key=key).exists():
                continue
            CertificateOperation.objects.create(certificate_id=operation.certificate_id, amount=-operation.amount,
                                                receipt=receipt, idempotency_key=key,
                                                reason=f"Возврат чека {receipt.ref}")
            Certificate.objects.filter(pk=operation.certificate_id).update(balance=F("balance") - operation.amount)
