"""Offers and their control groups: a client is in an offer's control group by a stable
hash, so the same client stays in it; who was offered (or held back) is recorded once."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import IntegrityError, transaction

from loyalty.models import OfferExposure


def offer_group(offer: str, offer_id: int, contact_id: int, holdout_percent: int) -> str:
    """OFFERED or CONTROL; the share of CONTROL tends to ``holdout_percent``."""
    if holdout_percent <= 0:
        return OfferExposure.Group.OFFERED
    digest = hashlib.sha256(f"{offer}:{offer_id}:{contact_id}".encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 100
    return OfferExposure.Group.CONTROL if bucket < holdout_percent else OfferExposure.Group.OFFERED


def offer_expose(offer: str, offer_id: int, contact_id: int, group: str, at: dt.datetime,
                 used: bool = False) -> None:
    """First exposure wins (a client's group never changes); ``used`` marks the first use."""
    try:
        with transaction.atomic():
            OfferExposure.objects.get_or_create(offer=offer, offer_id=offer_id, contact_id=contact_id,
                                                defaults={"group": group, "at": at, "used_at": at if used else None})
    except IntegrityError:  # recorded by a concurrent receipt
        pass
    if used:
        OfferExposure.objects.filter(offer=offer, offer_id=offer_id, contact_id=contact_id,
                                     used_at__isnull=True).update(used_at=at)


def offer_expose_many(offer: str, offer_id: int, contact_ids: list[int], group: str, at: dt.datetime) -> None:
    """``offer_expose`` for many contacts in one statement (first exposure wins)."""
    if contact_ids:
        OfferExposure.objects.bulk_create(
            [OfferExposure(offer=offer, offer_id=offer_id, contact_id=pk, group=group, at=at) for pk in contact_ids],
            ignore_conflicts=True)
