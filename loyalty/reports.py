"""Did an offer work? For each earning rule, promo code and campaign: the clients who got it
against its control group (held back by loyalty.services.offers), how many used it, and what
they spent in the days after each one first met it (a selector: reads only).

"Used" is the first use the engine recorded (rules, promo codes) or, for a campaign, a paid
receipt in the window after the message. Revenue is what the client paid in money and by
certificates on paid receipts in ``(exposure, exposure + days]``; refunded receipts count
nothing. Points are all the offer has given on receipts not refunded."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.apps import apps
from django.db.models import (
    Count,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from hub.services.money import money
from loyalty.models import EarningRule, OfferExposure, PromoCode, PromoUse, Receipt, RuleHit

WINDOWS = (7, 30, 90)  # days the admin page offers
DEFAULT_DAYS = 30
KINDS = (OfferExposure.Offer.RULE, OfferExposure.Offer.PROMO, OfferExposure.Offer.CAMPAIGN)
OFFERED, CONTROL = OfferExposure.Group.OFFERED, OfferExposure.Group.CONTROL
ZERO = Decimal("0.00")
TENTH = Decimal("0.1")
AMOUNT = DecimalField(max_digits=16, decimal_places=2)


def _percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class GroupResult:
    """One side of an offer: who got it (or was held back), who used it, what they spent."""

    clients: int = 0
    used: int = 0
    revenue: Decimal = ZERO

    @property
    def conversion(self) -> Decimal | None:
        """Percent of the clients who used the offer (one decimal); None without clients."""
        return _percent(self.used, self.clients)

    @property
    def revenue_per_client(self) -> Decimal | None:
        return money(self.revenue / self.clients) if self.clients else None


@dataclass(frozen=True)
class OfferResult:
    offer: str  # OfferExposure.Offer
    offer_id: int
    name: str
    days: int
    offered: GroupResult = field(default_factory=GroupResult)
    control: GroupResult = field(default_factory=GroupResult)
    points: Decimal = ZERO

    @property
    def kind_label(self) -> str:
        return str(OfferExposure.Offer(self.offer).label)

    @property
    def uplift(self) -> Decimal | None:
        """Revenue per client offered minus per client held back; None without a control group
        (nothing to compare with) or without anybody offered."""
        offered, control = self.offered.revenue_per_client, self.control.revenue_per_client
        if offered is None or control is None:
            return None
        return offered - control

    @property
    def uplift_percent(self) -> Decimal | None:
        """The uplift against the control group's revenue per client; None when that is zero."""
        uplift, control = self.uplift, self.control.revenue_per_client
        return _percent(uplift, control) if uplift is not None and control else None


def _window_receipts(days: int, now: dt.datetime):  # type: ignore[no-untyped-def]
    """Paid receipts of the exposure's client in (exposure, exposure + days], none after ``now``."""
    end = ExpressionWrapper(OuterRef("at") + dt.timedelta(days=days), output_field=DateTimeField())
    return (Receipt.objects.filter(contact_id=OuterRef("contact_id"), status=Receipt.Status.PAID,
                                   at__gt=OuterRef("at"), at__lte=now)
            .filter(at__lte=end).order_by())


def _group_rows(days: int, now: dt.datetime, kind: str | None = None, offer_id: int | None = None) -> list[dict]:
    """One row per (offer, id, group), every number aggregated by the database in one query."""
    receipts = _window_receipts(days, now)
    revenue = Subquery(receipts.values("contact_id").annotate(s=Sum(F("paid") + F("certificates"))).values("s"),
                       output_field=AMOUNT)
    rows = OfferExposure.objects.filter(at__lte=now)
    if kind is not None:
        rows = rows.filter(offer=kind)
    if offer_id is not None:
        rows = rows.filter(offer_id=offer_id)
    used = ((Q(offer=OfferExposure.Offer.CAMPAIGN) & Q(Exists(receipts)))
            | (~Q(offer=OfferExposure.Offer.CAMPAIGN) & Q(used_at__isnull=False, used_at__lte=now)))
    return list(rows.annotate(spent=revenue).values("offer", "offer_id", "group").order_by()
                .annotate(clients=Count("pk"), used=Count("pk", filter=used), revenue=Sum("spent")))


def _points(rule_ids: set[int], promo_ids: set[int], now: dt.datetime) -> dict[tuple[str, int], Decimal]:
    """Points given per rule (its hits) and per promo code (its uses and its coupons' uses)."""
    points: dict[tuple[str, int], Decimal] = {}
    if rule_ids:
        for pk, total in (RuleHit.objects.filter(rule_id__in=rule_ids, receipt__status=Receipt.Status.PAID,
                                                 receipt__at__lte=now)
                          .values("rule_id").order_by().annotate(total=Sum("points"))
                          .values_list("rule_id", "total")):
            points[(OfferExposure.Offer.RULE, pk)] = money(total)
    if promo_ids:
        template = Coalesce("promo__parent_id", "promo_id")
        for pk, total in (PromoUse.objects.filter(cancelled=False, receipt__at__lte=now)
                          .annotate(template=template).filter(template__in=promo_ids)
                          .values("template").order_by().annotate(total=Sum("points"))
                          .values_list("template", "total")):
            points[(OfferExposure.Offer.PROMO, pk)] = money(total)
    return points


def _names(ids: dict[str, set[int]]) -> dict[tuple[str, int], str | None]:
    """Offer names; None for a personal coupon (its parent code is the offer). A deleted offer
    has no entry."""
    campaigns = apps.get_model("mailings", "Campaign")  # mailings depends on loyalty, not the other way round
    names: dict[tuple[str, int], str | None] = {}
    if ids[OfferExposure.Offer.RULE]:
        for pk, name in EarningRule.objects.filter(pk__in=ids[OfferExposure.Offer.RULE]).values_list("pk", "name"):
            names[(OfferExposure.Offer.RULE, pk)] = name
    if ids[OfferExposure.Offer.PROMO]:
        for pk, code, name, parent in (PromoCode.objects.filter(pk__in=ids[OfferExposure.Offer.PROMO])
                                       .values_list("pk", "code", "name", "parent_id")):
            names[(OfferExposure.Offer.PROMO, pk)] = None if parent else f"{code} — {name}"
    if ids[OfferExposure.Offer.CAMPAIGN]:
        for pk, name in campaigns.objects.filter(pk__in=ids[OfferExposure.Offer.CAMPAIGN]).values_list("pk", "name"):
            names[(OfferExposure.Offer.CAMPAIGN, pk)] = name
    return names


def _results(days: int, now: dt.datetime | None, kind: str | None = None,
             offer_id: int | None = None) -> list[OfferResult]:
    if days <= 0:
        raise ValueError("days must be positive")
    now = now or timezone.now()
    groups: dict[tuple[str, int], dict[str, GroupResult]] = {}
    for row in _group_rows(days, now, kind, offer_id):
        groups.setdefault((row["offer"], row["offer_id"]), {})[row["group"]] = GroupResult(
            clients=row["clients"], used=row["used"], revenue=money(row["revenue"]))
    ids: dict[str, set[int]] = {k: set() for k in KINDS}
    for offer, pk in groups:
        ids[offer].add(pk)
    names = _names(ids)
    points = _points(ids[OfferExposure.Offer.RULE], ids[OfferExposure.Offer.PROMO], now)
    results = []
    for key, sides in groups.items():
        if key in names and names[key] is None:
            continue  # a personal coupon: its parent code is the offer
        results.append(OfferResult(offer=key[0], offer_id=key[1], name=names.get(key) or f"#{key[1]} (удалено)",
                                   days=days, offered=sides.get(OFFERED, GroupResult()),
                                   control=sides.get(CONTROL, GroupResult()), points=points.get(key, ZERO)))
    return sorted(results, key=lambda r: (KINDS.index(r.offer), r.name.casefold(), r.offer_id))


def offer_results(offer: str, offer_id: int, *, days: int = DEFAULT_DAYS,
                  now: dt.datetime | None = None) -> OfferResult:
    """One offer's results (all zeros when nobody has met it yet)."""
    found = _results(days, now, offer, offer_id)
    if found:
        return found[0]
    names = _names({k: ({offer_id} if k == offer else set()) for k in KINDS})
    return OfferResult(offer=offer, offer_id=offer_id, name=names.get((offer, offer_id)) or f"#{offer_id}", days=days)


def offers_overview(days: int = DEFAULT_DAYS, now: dt.datetime | None = None, *,
                    kind: str | None = None) -> list[OfferResult]:
    """Every rule, promo code (not the personal coupons issued from one) and campaign somebody
    has met, optionally of one ``kind``: at most six queries however many offers there are."""
    return _results(days, now, kind)
