"""What one receipt is evaluated on, and what the evaluation found: shared by the engine's
steps (limits, promo codes, earning rules, certificates, points) so each step reads the
same lines and adds its lines of explanation ("what would this receipt earn and why")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from hub.models import Contact, Product, ProductCategory, ServicePoint
from hub.services.money import money
from loyalty.models import Account, Certificate, Program, PromoCode, Tier

ZERO = Decimal(0)


@dataclass
class Line:
    index: int
    product: Product | None
    quantity: Decimal
    amount: Decimal  # the line's price × quantity, before any discount
    discount: Decimal = ZERO  # promo-code discounts
    rate: Decimal = ZERO  # base points percent after the rate rules
    points: Decimal = ZERO  # points the line earns on its net amount, before the paid share

    @property
    def category(self) -> ProductCategory | None:
        return self.product.category if self.product is not None else None

    @property
    def net(self) -> Decimal:
        return money(self.amount - self.discount)


@dataclass
class Step:
    """One line of the explanation, in the order the engine took it."""

    source: str  # "level", "rule", "promo", "limit", "certificate", "points", "base"
    name: str
    text: str  # Russian, for the operator and the till
    applied: bool = True
    ref: int | None = None
    points: Decimal = ZERO
    money: Decimal = ZERO

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "name": self.name, "text": self.text, "applied": self.applied,
                "ref": self.ref, "points": str(self.points), "money": str(self.money)}


@dataclass
class Refusal:
    """Something in the receipt that stops it being confirmed, with the reason to show."""

    kind: str  # "limit", "promo", "certificate", "points"
    ref: str  # the limit's id, the code typed…
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "ref": self.ref, "reason": self.reason}


@dataclass
class AppliedPromo:
    promo: PromoCode
    discount: Decimal
    points: Decimal


@dataclass
class AppliedCertificate:
    certificate: Certificate
    amount: Decimal


@dataclass
class ReceiptContext:
    program: Program
    contact: Contact
    at: dt.datetime  # aware
    lines: list[Line]
    service_point: ServicePoint | None = None
    account: Account | None = None  # None: the client has no account in the program yet
    tier: Tier | None = None
    first_purchase: bool = False  # no earlier paid receipt in the program
    ref: str = ""  # the order being evaluated (its own earlier rows are not "history")
    trace: list[Step] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    promos: list[AppliedPromo] = field(default_factory=list)
    certificates: list[AppliedCertificate] = field(default_factory=list)
    combinable: bool = True  # False once a promo code that must be alone is applied: no points payment
    bonus_points: Decimal = ZERO  # receipt-level points (fixed rule bonuses, promo bonuses), not scaled
    cashback: Decimal = ZERO  # money back to the deposit, on the net amount, before the paid share
    rule_points: dict[int, Decimal] = field(default_factory=dict)  # rule id → points it added
    rule_cashback: dict[int, Decimal] = field(default_factory=dict)
    exposures: list[tuple[str, int, str]] = field(default_factory=list)  # (offer, id, group) seen eligible

    @property
    def local(self) -> dt.datetime:
        return self.at.astimezone(ZoneInfo(self.program.time_zone or "Europe/Moscow"))

    @property
    def total(self) -> Decimal:
        return money(sum((line.amount for line in self.lines), ZERO))

    @property
    def discount(self) -> Decimal:
        return money(sum((line.discount for line in self.lines), ZERO))

    @property
    def net(self) -> Decimal:
        return money(self.total - self.discount)

    def explain(self, source: str, name: str, text: str, **kwargs: object) -> Step:
        step = Step(source=source, name=name, text=text, **kwargs)  # type: ignore[arg-type]
        self.trace.append(step)
        return step

    def refuse(self, kind: str, ref: str, reason: str) -> None:
        self.refusals.append(Refusal(kind=kind, ref=ref, reason=reason))
        self.explain(kind, ref, reason, applied=False)


def context_build(program: Program, contact: Contact, lines: list[tuple[Product | None, Decimal, Decimal]],
                  at: dt.datetime, *, service_point: ServicePoint | None = None, ref: str = "",
                  account: Account | None = None) -> ReceiptContext:
    """``lines``: (product, quantity, line amount). ``account``: pass the locked one when confirming."""
    from loyalty.models import Receipt

    account = account or Account.objects.filter(contact=contact, program=program).select_related("tier").first()
    earlier = Receipt.objects.filter(program=program, contact=contact, status=Receipt.Status.PAID).exclude(ref=ref)
    return ReceiptContext(
        program=program, contact=contact, at=at, service_point=service_point, ref=ref, account=account,
        tier=account.tier if account is not None else None, first_purchase=not earlier.exists(),
        lines=[Line(index=i, product=product, quantity=Decimal(quantity), amount=money(amount))
               for i, (product, quantity, amount) in enumerate(lines)])
