"""Points from purchases in any channel, and paying with points: a quote ("calculate")
before the order is confirmed, and an idempotent "confirm" that redeems and earns."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.models import Contact, Product, ProductCategory, Purchase
from hub.services.money import money
from loyalty.models import CategoryRate, Entry, Program, ProgramRequest
from loyalty.selectors import spendable_points
from loyalty.services.ledger import ledger_earn, ledger_redeem, ledger_refund, program_default
from loyalty.services.programs import program_client, program_confirm, program_lines, program_port, program_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderLine:
    product: Product | None
    amount: Decimal  # what the line costs, before points


def _rates(program: Program) -> dict[int, Decimal]:
    return dict(CategoryRate.objects.filter(program=program).values_list("category_id", "percent"))


def _rate(program: Program, rates: dict[int, Decimal], category: ProductCategory | None) -> Decimal:
    """The nearest category up the tree with a rate, else the program's."""
    seen = set()
    while category is not None and category.pk not in seen:
        if category.pk in rates:
            return rates[category.pk]
        seen.add(category.pk)
        category = category.parent
    return program.earn_percent


def points_to_earn(lines: list[OrderLine], program: Program | None = None, paid_share: Decimal = Decimal(1),
                   ) -> Decimal:
    """``paid_share``: the part of the order paid in money (points do not earn points)."""
    program = program or program_default()
    rates = _rates(program)
    total = sum((money(line.amount) * _rate(program, rates, line.product.category if line.product else None)
                 / 100 for line in lines), Decimal(0))
    return money(total * paid_share)


@dataclass(frozen=True)
class Quote:
    total: Decimal
    max_points: Decimal  # payable by points now: the balance, capped by the program's share
    earn_points: Decimal  # earned if paid fully in money
    balance: Decimal


def order_calculate(contact: Contact, lines: list[OrderLine], program: Program | None = None) -> Quote:
    """Raises ProgramError / SyncError when an external program refuses or does not answer."""
    program = program or program_default()
    if program.connection_id is not None:
        port = program_port(program)
        quote = port.calculate(program_client(program, contact, port=port), program_lines(lines), Decimal(0))
        return Quote(total=money(quote.total), max_points=money(quote.max_points),
                     earn_points=money(quote.earn_points),
                     balance=money(quote.balance if quote.balance is not None else quote.max_points))
    total = money(sum((money(line.amount) for line in lines), Decimal(0)))
    spendable = spendable_points(contact, program)
    cap = money(total * program.max_redeem_share / 100)
    return Quote(total=total, max_points=min(spendable, cap), earn_points=points_to_earn(lines, program),
                 balance=spendable)


@dataclass(frozen=True)
class Confirmation:
    redeemed: Entry | None
    earned: Entry | None


def order_confirm(contact: Contact, order_ref: str, lines: list[OrderLine], redeem_points: Decimal | int | str = 0,
                  *, program: Program | None = None, source: str = Entry.Source.PURCHASE) -> Confirmation:
    """Pay ``redeem_points`` of the order with points and earn on the rest; the same
    ``order_ref`` confirmed again returns what was done the first time."""
    program = program or program_default()
    redeem = money(redeem_points)
    if redeem < 0:
        raise ValidationError({"points": "Баллы к оплате не могут быть отрицательными."})
    done = {e.idempotency_key: e for e in Entry.objects.filter(
        idempotency_key__in=[f"order:{order_ref}:redeem", f"order:{order_ref}:earn"])}
    if done:
        return Confirmation(done.get(f"order:{order_ref}:redeem"), done.get(f"order:{order_ref}:earn"))
    if program.connection_id is not None:  # the program decides; no transaction held over the network
        entries = program_confirm(program, contact, order_ref, program_lines(lines), redeem, source)
        return Confirmation(entries.get("redeem"), entries.get("earn"))
    with transaction.atomic():
        quote = order_calculate(contact, lines, program)
        if redeem > quote.max_points:
            raise ValidationError({"points": f"Баллами можно оплатить не больше {quote.max_points} "
                                             f"(доступно {quote.balance}, до {program.max_redeem_share}% заказа)."})
        redeemed = ledger_redeem(contact, redeem, reason=f"Оплата заказа {order_ref}", source=source,
                                 idempotency_key=f"order:{order_ref}:redeem", program=program,
                                 source_ref=order_ref) if redeem else None
        paid_share = (quote.total - redeem) / quote.total if quote.total else Decimal(0)
        earn = points_to_earn(lines, program, paid_share)
        earned = ledger_earn(contact, earn, reason=f"Заказ {order_ref}", source=source, program=program,
                             idempotency_key=f"order:{order_ref}:earn", source_ref=order_ref) if earn > 0 else None
    return Confirmation(redeemed, earned)


def purchase_earn(purchase: Purchase) -> Entry | None:
    """Points for a paid receipt (once, however often it is re-recorded); a refunded receipt
    takes back what is left of them. With an external program the receipt is queued for it."""
    if purchase.contact_id is None:
        return None
    key = f"purchase:{purchase.pk}"
    program = program_default()
    if program.connection_id is not None:
        _purchase_to_program(program, purchase, key)
        return None
    if purchase.status == Purchase.Status.REFUNDED:
        if Entry.objects.filter(idempotency_key=key).exists():
            return ledger_refund(key, reason=f"Возврат покупки {purchase.number or purchase.pk}",
                                 idempotency_key=f"{key}:refund")
        return None
    earned = Entry.objects.filter(idempotency_key=key).first()
    if earned is not None:  # recorded again (rates or lines may differ now): the first earn stands
        return earned
    lines = [OrderLine(line.product, line.amount) for line in purchase.lines.select_related("product__category")]
    earn = points_to_earn(lines)
    if earn <= 0:
        return None
    return ledger_earn(purchase.contact, earn, reason=f"Покупка {purchase.number or purchase.pk}",
                       source=Entry.Source.PURCHASE, idempotency_key=key, source_ref=str(purchase.pk),
                       now=purchase.purchased_at)


def _purchase_to_program(program: Program, purchase: Purchase, key: str) -> None:
    label = f"Покупка {purchase.number or purchase.pk}"
    if purchase.status == Purchase.Status.REFUNDED:
        if ProgramRequest.objects.filter(idempotency_key=key).exists():
            program_request(program, purchase.contact, kind=ProgramRequest.Kind.REFUND, key=f"{key}:refund",
                            order_ref=key, source=Entry.Source.PURCHASE, reason=f"Возврат: {label.lower()}")
        return
    if ProgramRequest.objects.filter(idempotency_key=key).exists():
        return  # recorded again: the first request stands, as the first earn does in the hub's ledger
    lines = [OrderLine(line.product, line.amount) for line in purchase.lines.select_related("product__category")]
    payload = {"lines": [{"sku": p.sku, "name": p.name, "price": str(p.price), "qty": str(p.qty),
                          "category": p.category} for p in program_lines(lines)]}
    if payload["lines"]:
        program_request(program, purchase.contact, kind=ProgramRequest.Kind.PURCHASE, key=key, order_ref=key,
                        source=Entry.Source.PURCHASE, reason=label, payload=payload)


def on_purchase_recorded(sender: Any, purchase: Purchase, created: bool, **kwargs: Any) -> None:
    purchase_earn(purchase)
