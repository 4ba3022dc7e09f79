"""Certificates and subscriptions sold as products: a paid purchase issues one per unit to
the buyer, keyed by purchase, product and unit number (not by line: a re-recorded receipt
gets new line rows), so recording the same receipt again issues nothing new. A refund
blocks what was not used yet; what was used stays, for an operator to settle."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.models import Product, Purchase
from loyalty.models import Certificate, CertificateType, Subscription, SubscriptionPlan
from loyalty.services.certificates import certificate_issue
from loyalty.services.subscriptions import subscription_issue, venue_day

log = logging.getLogger(__name__)


def _units(quantity: Any) -> int:
    return max(int(quantity or 0), 0)  # 2.000 → 2; a fraction of a certificate is not one


def purchase_issue(purchase: Purchase) -> tuple[list[Certificate], list[Subscription]]:
    """Everything the paid purchase issues (existing ones included); a unit that cannot be
    issued (an amount outside its type's bounds) is logged, the rest still are."""
    certificates: list[Certificate] = []
    subscriptions: list[Subscription] = []
    seen: Counter[int] = Counter()  # units of each product so far, across lines
    for line in purchase.lines.select_related("product").order_by("pk"):
        product: Product | None = line.product
        if product is None:
            continue
        kind = CertificateType.objects.filter(sold_as=product, active=True).order_by("pk").first()
        plan = SubscriptionPlan.objects.filter(sold_as=product, active=True).order_by("pk").first()
        if kind is None and plan is None:
            continue
        for _ in range(_units(line.quantity)):
            seen[product.pk] += 1
            key = f"purchase:{purchase.pk}:{product.pk}:{seen[product.pk]}"
            try:
                if kind is not None:
                    certificates.append(certificate_issue(
                        kind, key=key, contact=purchase.contact, now=purchase.purchased_at,
                        amount=None if kind.amount is not None else line.price))
                if plan is not None:
                    if purchase.contact is None:
                        log.warning("purchase %s: subscription %s sold without a client, not issued",
                                    purchase.pk, plan.pk)
                        continue
                    subscriptions.append(subscription_issue(plan, purchase.contact, key=key,
                                                            starts_on=venue_day(purchase.purchased_at)))
            except ValidationError as exc:
                log.error("purchase %s, product %s, unit %s not issued: %s", purchase.pk, product.pk,
                          seen[product.pk], "; ".join(exc.messages))
    return certificates, subscriptions


def purchase_revoke(purchase: Purchase) -> tuple[int, int]:
    """After a refund: block untouched certificates, cancel subscriptions with no visits;
    returns how many of each."""
    prefix = f"purchase:{purchase.pk}:"
    blocked = cancelled = 0
    with transaction.atomic():
        for certificate in Certificate.objects.select_for_update().filter(issue_key__startswith=prefix) \
                .order_by("pk"):
            if certificate.status != Certificate.Status.ACTIVE:
                continue
            if certificate.balance == certificate.amount:
                certificate.status = Certificate.Status.BLOCKED
                certificate.save(update_fields=["status"])
                blocked += 1
            else:
                log.warning("purchase %s refunded: certificate %s already used, left active", purchase.pk,
                            certificate.pk)
        for subscription in Subscription.objects.select_for_update().filter(issue_key__startswith=prefix) \
                .order_by("pk"):
            if subscription.status != Subscription.Status.ACTIVE:
                continue
            if not subscription.visit_rows.exists():
                subscription.status = Subscription.Status.CANCELLED
                subscription.save(update_fields=["status"])
                cancelled += 1
            else:
                log.warning("purchase %s refunded: subscription %s already used, left active", purchase.pk,
                            subscription.pk)
    return blocked, cancelled


def on_purchase_recorded(sender: Any, purchase: Purchase, created: bool, **kwargs: Any) -> None:
    if purchase.status == Purchase.Status.REFUNDED:
        purchase_revoke(purchase)
    elif purchase.status == Purchase.Status.PAID:
        purchase_issue(purchase)
