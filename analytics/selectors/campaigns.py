"""How the mailings went: per campaign and channel, the messages made in a period and what
became of them, and how many recipients withdrew their marketing consent after a message.

What the clients bought after a campaign (against its control group) is not recomputed here:
loyalty.reports.offers_overview already measures every campaign as an offer, and the page
shows its numbers next to these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from hub.models.consent import ConsentRecord, Purpose
from loyalty.models import OfferExposure
from loyalty.reports import OfferResult, offers_overview
from mailings.models import Campaign, Message

SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ)
DELIVERED = (Message.Status.DELIVERED, Message.Status.READ)
COUNTS = ("messages", "sent", "delivered", "read", "failed", "skipped", "queued", "opted_out")


@dataclass
class Delivery:
    """Messages of one campaign (on one channel, or on all of them)."""

    messages: int = 0
    sent: int = 0  # handed to the provider (and maybe delivered or read since)
    delivered: int = 0
    read: int = 0
    failed: int = 0
    skipped: int = 0
    queued: int = 0
    opted_out: int = 0  # recipients who withdrew marketing consent after a message

    @classmethod
    def of(cls, row: dict) -> Delivery:
        return cls(**{name: row[name] or 0 for name in COUNTS})


@dataclass
class CampaignResult:
    campaign_id: int
    name: str
    kind: str
    total: Delivery
    channels: dict[str, Delivery] = field(default_factory=dict)
    offer: OfferResult | None = None  # what the clients bought after it; None unless asked for


def _opted_out() -> Exists:
    return Exists(ConsentRecord.objects.filter(contact_id=OuterRef("contact_id"), purpose=Purpose.MARKETING,
                                               withdrawn_at__gte=OuterRef("created_at")))


def _counts() -> dict[str, Count]:
    return {"messages": Count("pk"), "sent": Count("pk", filter=Q(status__in=SENT)),
            "delivered": Count("pk", filter=Q(status__in=DELIVERED)),
            "read": Count("pk", filter=Q(status=Message.Status.READ)),
            "failed": Count("pk", filter=Q(status=Message.Status.FAILED)),
            "skipped": Count("pk", filter=Q(status=Message.Status.SKIPPED)),
            "queued": Count("pk", filter=Q(status=Message.Status.QUEUED)),
            "opted_out": Count("contact_id", distinct=True, filter=Q(_opted_out()))}


def campaign_messages(start: dt.datetime, end: dt.datetime, *, campaign: Campaign | None = None,
                      channel: str | None = None) -> QuerySet[Message]:
    rows = Message.objects.filter(campaign__isnull=False, created_at__gte=start, created_at__lt=end)
    if campaign is not None:
        rows = rows.filter(campaign=campaign)
    if channel:
        rows = rows.filter(channel=channel)
    return rows


def campaign_results(start: dt.datetime, end: dt.datetime, *, campaign: Campaign | None = None,
                     channel: str | None = None, offer_days: int | None = None,
                     now: dt.datetime | None = None) -> list[CampaignResult]:
    """Campaigns with messages made in [start, end), by name: totals, per channel, and with
    ``offer_days`` the offer results over that window (loyalty.reports). Two queries, plus the
    offer results' own fixed few."""
    rows = campaign_messages(start, end, campaign=campaign, channel=channel).order_by()
    results: dict[int, CampaignResult] = {}
    for row in rows.values("campaign_id", "campaign__name", "campaign__kind").annotate(**_counts()):
        results[row["campaign_id"]] = CampaignResult(row["campaign_id"], row["campaign__name"],
                                                     row["campaign__kind"], Delivery.of(row))
    for row in rows.values("campaign_id", "channel").annotate(**_counts()).order_by("campaign_id", "channel"):
        results[row["campaign_id"]].channels[row["channel"]] = Delivery.of(row)
    if offer_days and results:
        offers = {r.offer_id: r for r in offers_overview(offer_days, now, kind=OfferExposure.Offer.CAMPAIGN)}
        for result in results.values():
            result.offer = offers.get(result.campaign_id)
    return sorted(results.values(), key=lambda r: (r.name.casefold(), r.campaign_id))
