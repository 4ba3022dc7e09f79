"""Points from purchases in any channel, and paying with points: a quote ("calculate")
before the order is confirmed, and an idempotent "confirm" that redeems and earns. The
hub's own programs go through the receipt engine (loyalty.services.receipts); external
programs decide through their port."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from hub.models import Contact, Product, Purchase
from hub.services.money import money
from loyalty.models import Entry, Program, ProgramRequest, Receipt
from loyalty.services.ledger import ledger_refund, program_default
from loyalty.services.programs import program_client, program_confirm, program_lines, program_port, program_request

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderLine:
    product: Product | None
    amount: Decimal  # what the line costs, before points


@dataclass(frozen=True)
class Quote:
    total: Decimal
    max_points: Decimal  # payable by points now: the balance, capped by the program's share
    earn_points: Decimal  # earned if paid fully in money
    balance: Decimal


def _request(contact: Contact, lines: list[OrderLine], program: Program, ref: str = "",
             redeem: Decimal = Decimal(0)) -> Any:
    from loyalty.services.receipts import ReceiptRequest  # the engine's rules read this module's rates

    return ReceiptRequest(program=program, contact=contact, ref=ref, redeem_points=redeem,
                          lines=[(line.product, Decimal(1), line.amount) for line in lines])


def order_calculate(contact: Contact, lines: list[OrderLine], program: Program | None = None) -> Quote:
    """Raises ProgramError / SyncError when an external program refuses or does not answer."""
    program = program or program_default()
    if program.connection_id is not None:
        port = program_port(program)
        quote = port.calculate(program_client(program, contact, port=port), program_lines(lines), Decimal(0))
        return Quote(total=money(quote.total), max_points=money(quote.max_points),
                     earn_points=money(quote.earn_points),
                     balance=money(quote.balance if quote.balance is not None else quote.max_points))
    from loyalty.services.receipts import receipt_calculate

    calc = receipt_calculate(_request(contact, lines, program))
    return Quote(total=calc.ctx.total, max_points=calc.max_points, earn_points=calc.earn_points, balance=calc.balance)


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
    if done and (program.connection_id is not None or not Receipt.objects.filter(program=program,
                                                                                  ref=order_ref).exists()):
        # confirmed before (by the program, or before the engine kept receipts): what was done stands
        return Confirmation(done.get(f"order:{order_ref}:redeem"), done.get(f"order:{order_ref}:earn"))
    if program.connection_id is not None:  # the program decides; no transaction held over the network
        entries = program_confirm(program, contact, order_ref, program_lines(lines), redeem, source)
        return Confirmation(entries.get("redeem"), entries.get("earn"))
    from loyalty.services.receipts import receipt_confirm

    receipt = receipt_confirm(_request(contact, lines, program, order_ref, redeem))
    entries = {e.idempotency_key.rsplit(":", 1)[1]: e for e in Entry.objects.filter(
        account__program=program, source_ref=receipt.ref, kind__in=[Entry.Kind.REDEEM, Entry.Kind.EARN],
        idempotency_key__startswith="order:")}
    return Confirmation(entries.get("redeem"), entries.get("earn"))


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
    refunded = purchase.status == Purchase.Status.REFUNDED
    earned = Entry.objects.filter(idempotency_key=key).first()
    if earned is not None and not Receipt.objects.filter(purchase=purchase).exists():
        # earned before the engine kept receipts: only the refund is left to do
        return ledger_refund(key, reason=f"Возврат покупки {purchase.number or purchase.pk}",
                             idempotency_key=f"{key}:refund") if refunded else earned
    from loyalty.services.receipts import receipt_from_purchase

    receipt_from_purchase(purchase, program)
    return Entry.objects.filter(idempotency_key=f"{key}:refund" if refunded else key).first()


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
