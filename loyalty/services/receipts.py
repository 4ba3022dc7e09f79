"""The loyalty engine on one receipt, for programs whose points the hub keeps.

"Calculate" is a dry run: limits, promo codes, earning rules (with the client's level),
certificates and paying by points, each step explained, nothing written. "Confirm" runs the
same steps with the client's account row locked first (so one client's receipts queue and
limits and caps hold under concurrency) and writes the receipt, the codes' and
certificates' uses and the ledger entries; the same order confirmed again is the same
receipt. A refund undoes it. A purchase recorded from the ticketing system goes through the
same rules (without codes, certificates or limits: it has happened already)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.models import Contact, Product, Purchase, ServicePoint
from hub.services.money import money
from loyalty.models import EarningRule, Entry, OfferExposure, Program, Receipt, ReceiptLine, RuleHit
from loyalty.selectors import spendable_points
from loyalty.services.certificates import certificates_apply, certificates_record, certificates_release
from loyalty.services.context import ZERO, ReceiptContext, Refusal, context_build
from loyalty.services.ledger import account_lock, ledger_earn, ledger_redeem, ledger_refund
from loyalty.services.limits import limits_check
from loyalty.services.offers import offer_expose
from loyalty.services.promos import promos_apply, promos_record, promos_release
from loyalty.services.rules import rules_apply
from loyalty.services.tiers import tier_redeem_share
from loyalty.signals import receipt_confirmed, receipt_refunded


@dataclass(frozen=True)
class ReceiptRequest:
    program: Program
    contact: Contact
    lines: list[tuple[Product | None, Decimal, Decimal]]  # product, quantity, line amount
    ref: str = ""
    at: dt.datetime | None = None
    service_point: ServicePoint | None = None
    promo_codes: tuple[str, ...] = ()
    certificate_codes: tuple[str, ...] = ()
    redeem_points: Decimal = ZERO


@dataclass
class Calculation:
    ctx: ReceiptContext
    balance: Decimal = ZERO  # spendable points
    max_points: Decimal = ZERO  # payable by points in this receipt
    redeem_points: Decimal = ZERO
    certificates: Decimal = ZERO
    to_pay: Decimal = ZERO  # money
    earn_points: Decimal = ZERO
    cashback: Decimal = ZERO  # money back to the deposit
    paid_share: Decimal = ZERO
    line_points: list[Decimal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.ctx.refusals

    def as_dict(self) -> dict[str, Any]:
        ctx = self.ctx
        return {
            "ok": self.ok, "total": str(ctx.total), "discount": str(ctx.discount),
            "certificates": str(self.certificates), "points_balance": str(self.balance),
            "max_points": str(self.max_points), "redeem_points": str(self.redeem_points),
            "to_pay": str(self.to_pay), "earn_points": str(self.earn_points), "cashback": str(self.cashback),
            "level": ctx.tier.name if ctx.tier else None,
            "lines": [{"product": line.product.pk if line.product else None, "quantity": str(line.quantity),
                       "amount": str(line.amount), "discount": str(line.discount), "points": str(points)}
                      for line, points in zip(ctx.lines, self.line_points, strict=True)],
            "promo_codes": [{"code": p.promo.code, "discount": str(p.discount), "points": str(p.points)}
                            for p in ctx.promos],
            "refusals": [r.as_dict() for r in ctx.refusals],
            "explanation": [s.as_dict() for s in ctx.trace],
        }


class ReceiptRefused(ValidationError):
    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__([r.reason for r in refusals], code="receipt_refused")


def _check(request: ReceiptRequest) -> None:
    if request.program.connection_id is not None:
        raise ValidationError(f"Баллы программы «{request.program}» ведёт внешняя программа: "
                              "чек считает она.")
    if not request.lines:
        raise ValidationError({"lines": "В чеке нет позиций."})
    for _product, quantity, amount in request.lines:
        if Decimal(quantity) <= 0 or money(amount) < 0:
            raise ValidationError({"lines": "Количество должно быть больше нуля, сумма — не меньше нуля."})


def _evaluate(ctx: ReceiptContext, request: ReceiptRequest, *, lock: bool, history: bool = False) -> Calculation:
    """``history``: a purchase that has happened already — no limits, codes or payment by points."""
    if not history:
        limits_check(ctx)
        promos_apply(ctx, list(request.promo_codes), lock=lock)
    rules_apply(ctx)
    if not history:
        certificates_apply(ctx, list(request.certificate_codes), lock=lock)
    calc = Calculation(ctx=ctx)
    net = ctx.net
    calc.certificates = money(sum((c.amount for c in ctx.certificates), ZERO))
    after_certificates = money(net - calc.certificates)
    # What can be spent is judged now, whatever time the till gives the receipt (locks and expiry).
    calc.balance = spendable_points(ctx.contact, ctx.program) if ctx.account is not None else ZERO
    share = tier_redeem_share(ctx.program, ctx.tier)
    cap = min(money(net * share / 100), after_certificates)
    calc.max_points = min(calc.balance, cap) if ctx.combinable else ZERO
    redeem = money(request.redeem_points)
    if redeem < 0:
        ctx.refuse("points", str(redeem), "Баллы к оплате не могут быть отрицательными.")
    elif redeem > 0 and not ctx.combinable:
        ctx.refuse("points", str(redeem), "Промокод в чеке не суммируется с оплатой баллами.")
    elif redeem > calc.max_points:
        ctx.refuse("points", str(redeem), f"Баллами можно оплатить не больше {calc.max_points} "
                                          f"(доступно {calc.balance}, до {share}% чека).")
    calc.redeem_points = redeem if 0 <= redeem <= calc.max_points else ZERO
    calc.to_pay = money(after_certificates - calc.redeem_points)
    calc.paid_share = calc.to_pay / net if net > 0 else ZERO
    calc.line_points = [money(line.points * calc.paid_share) for line in ctx.lines]
    calc.earn_points = money(sum(calc.line_points, ZERO) + ctx.bonus_points)
    calc.cashback = money(ctx.cashback * calc.paid_share)
    if calc.redeem_points or calc.certificates:
        ctx.explain("points", "Оплата", f"Баллами {calc.redeem_points}, сертификатами {calc.certificates}, "
                                        f"деньгами {calc.to_pay}: баллы начисляются на оплаченное деньгами.",
                    money=calc.to_pay)
    ctx.explain("points", "Итого", f"Начислится {calc.earn_points} баллов"
                                   + (f", кэшбэк на депозит {calc.cashback} ₽" if calc.cashback else "") + ".",
                points=calc.earn_points, money=calc.cashback)
    return calc


def _context(request: ReceiptRequest, account: Any = None) -> ReceiptContext:
    return context_build(request.program, request.contact, request.lines, request.at or timezone.now(),
                         service_point=request.service_point, ref=request.ref, account=account)


def receipt_calculate(request: ReceiptRequest) -> Calculation:
    """What this receipt would cost, pay and earn, and why; writes nothing."""
    _check(request)
    return _evaluate(_context(request), request, lock=False)


def _key(program: Program, ref: str, what: str) -> str:
    # The default program keeps the keys order confirmations have always had.
    return f"order:{ref}:{what}" if program.code == "main" else f"order:{program.code}:{ref}:{what}"


def _existing(request: ReceiptRequest) -> Receipt | None:
    receipt = Receipt.objects.filter(program=request.program, ref=request.ref).first()
    if receipt is not None and receipt.contact_id != request.contact.pk:
        raise ValidationError({"ref": f"Заказ {request.ref} уже проведён для другого клиента."})
    return receipt


LATE = dt.timedelta(hours=24)  # a till that was offline may confirm yesterday's receipt
EARLY = dt.timedelta(minutes=5)  # clocks drift


def receipt_confirm(request: ReceiptRequest) -> Receipt:
    """Raises ReceiptRefused with every reason when a limit, code, certificate or the points
    payment does not allow the receipt; the same order again returns the first receipt."""
    _check(request)
    if not request.ref.strip():
        raise ValidationError({"ref": "Укажите номер заказа."})
    if request.ref.startswith("purchase:"):
        raise ValidationError({"ref": "Номера заказов «purchase:…» заняты покупками из билетной системы."})
    now = timezone.now()
    if request.at is not None and not now - LATE <= request.at <= now + EARLY:
        raise ValidationError({"at": "Время чека — не раньше суток назад и не позже текущего: "
                                     "рассчитать другое время можно, провести — нет."})
    if (done := _existing(request)) is not None:
        return done
    try:
        return _confirm(request)
    except IntegrityError:  # the same order confirmed at this instant for another client's account
        if (done := _existing(request)) is not None:
            return done
        raise


def _confirm(request: ReceiptRequest) -> Receipt:
    with transaction.atomic():
        account = account_lock(request.contact, request.program)
        if (done := _existing(request)) is not None:
            return done
        ctx = _context(request, account=account)
        calc = _evaluate(ctx, request, lock=True)
        if not calc.ok:
            raise ReceiptRefused(ctx.refusals)
        receipt = _write(ctx, calc)
        promos_record(ctx, receipt)
        certificates_record(ctx, receipt)
        if calc.redeem_points:
            ledger_redeem(ctx.contact, calc.redeem_points, reason=f"Оплата заказа {ctx.ref}",
                          source=Entry.Source.PURCHASE, idempotency_key=_key(ctx.program, ctx.ref, "redeem"),
                          program=ctx.program, source_ref=ctx.ref)
        if calc.earn_points > 0:
            ledger_earn(ctx.contact, calc.earn_points, reason=f"Заказ {ctx.ref}", source=Entry.Source.PURCHASE,
                        idempotency_key=_key(ctx.program, ctx.ref, "earn"), program=ctx.program,
                        source_ref=ctx.ref)
        transaction.on_commit(lambda: receipt_confirmed.send(sender=Receipt, receipt=receipt))
    return receipt


def _write(ctx: ReceiptContext, calc: Calculation, purchase: Purchase | None = None) -> Receipt:
    receipt = Receipt.objects.create(
        program=ctx.program, contact=ctx.contact, ref=ctx.ref, purchase=purchase, at=ctx.at,
        service_point=ctx.service_point, total=ctx.total, discount=ctx.discount, certificates=calc.certificates,
        points_redeemed=calc.redeem_points, paid=calc.to_pay, points_earned=calc.earn_points,
        cashback=calc.cashback, tier=ctx.tier, trace=[s.as_dict() for s in ctx.trace])
    ReceiptLine.objects.bulk_create([
        ReceiptLine(receipt=receipt, product=line.product, category=line.category, quantity=line.quantity,
                    amount=line.amount, discount=line.discount, points=points)
        for line, points in zip(ctx.lines, calc.line_points, strict=True)])
    _hits(ctx, calc, receipt)
    return receipt


def _hits(ctx: ReceiptContext, calc: Calculation, receipt: Receipt) -> None:
    """Who got which rule (for the offer results); fixed bonuses are not scaled by the paid share."""
    ids = set(ctx.rule_points) | set(ctx.rule_cashback)
    bonus = set(EarningRule.objects.filter(pk__in=ids, effect=EarningRule.Effect.BONUS).values_list("pk", flat=True))
    RuleHit.objects.bulk_create([
        RuleHit(receipt=receipt, rule_id=pk,
                points=money(ctx.rule_points.get(pk, ZERO) * (1 if pk in bonus else calc.paid_share)),
                cashback=money(ctx.rule_cashback.get(pk, ZERO) * calc.paid_share)) for pk in sorted(ids)])
    for offer, offer_id, group in ctx.exposures:
        if offer == OfferExposure.Offer.RULE:  # promo codes record their own use
            offer_expose(offer, offer_id, ctx.contact.pk, group, ctx.at,
                         used=group == OfferExposure.Group.OFFERED and offer_id in ids)


def receipt_refund(program: Program, ref: str, *, now: dt.datetime | None = None) -> Receipt:
    """The whole receipt back: earned points taken back (what is left of them), paid points
    returned, codes and certificates given back. Idempotent."""
    receipt = Receipt.objects.filter(program=program, ref=ref).first()
    if receipt is None:
        raise ValidationError({"ref": f"Заказ {ref} не найден."})
    with transaction.atomic():
        account_lock(receipt.contact, program)
        receipt = Receipt.objects.select_for_update().get(pk=receipt.pk)
        if receipt.status == Receipt.Status.REFUNDED:
            return receipt
        receipt.status, receipt.refunded_at = Receipt.Status.REFUNDED, now or timezone.now()
        receipt.save(update_fields=["status", "refunded_at"])
        promos_release(receipt)
        certificates_release(receipt)
        keys = ([f"purchase:{receipt.purchase_id}"] if receipt.purchase_id else
                [_key(program, ref, "earn"), _key(program, ref, "redeem")])
        for key in keys:
            if Entry.objects.filter(idempotency_key=key).exists():
                ledger_refund(key, reason=f"Возврат заказа {ref}", idempotency_key=f"{key}:refund")
        transaction.on_commit(lambda: receipt_refunded.send(sender=Receipt, receipt=receipt))
    return receipt


def receipt_from_purchase(purchase: Purchase, program: Program) -> Receipt | None:
    """A purchase recorded from the ticketing system or a site: the rules and the client's
    level decide its points, once (a re-recorded purchase keeps its first receipt); a refund
    takes them back."""
    if purchase.contact_id is None:
        return None
    receipt = Receipt.objects.filter(purchase=purchase).first()
    if purchase.status == Purchase.Status.REFUNDED:
        return receipt_refund(program, receipt.ref) if receipt is not None else None
    if receipt is not None:
        return receipt
    lines = [(line.product, line.quantity, line.amount) for line in
             purchase.lines.select_related("product__category__parent")]
    if not lines:
        return None
    point = ServicePoint.objects.filter(name=purchase.sales_point).first() if purchase.sales_point else None
    request = ReceiptRequest(program=program, contact=purchase.contact, lines=lines, ref=f"purchase:{purchase.pk}",
                             at=purchase.purchased_at, service_point=point)
    with transaction.atomic():
        account = account_lock(purchase.contact, program)
        if (receipt := Receipt.objects.filter(purchase=purchase).first()) is not None:
            return receipt
        ctx = _context(request, account=account)
        calc = _evaluate(ctx, request, lock=True, history=True)
        receipt = _write(ctx, calc, purchase=purchase)
        if calc.earn_points > 0:
            ledger_earn(purchase.contact, calc.earn_points, reason=f"Покупка {purchase.number or purchase.pk}",
                        source=Entry.Source.PURCHASE, idempotency_key=f"purchase:{purchase.pk}",
                        source_ref=str(purchase.pk), program=program, now=purchase.purchased_at)
        transaction.on_commit(lambda: receipt_confirmed.send(sender=Receipt, receipt=receipt))
    return receipt
