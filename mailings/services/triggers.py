"""Event notifications: a CRM deal reaching a stage (and NPS surveys, which start the same
way), bonus points accrued, a booking confirmed — each a campaign with its template and
channels. Deal moves arrive as they happen (``deal_moved``); points and bookings are read by a
scan every minute, which also sees set-based writes (a mass accrual) that send no signals."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from bookings.models import Booking
from hub.models import Connection, Contact, ExternalRef
from hub.services.deals import CrmDealView
from loyalty.models import Entry
from mailings.models import Campaign
from mailings.services.nps import nps_ask
from mailings.services.outgoing import Recipient, messages_queue

log = logging.getLogger(__name__)
SCAN_CHUNK = 2000
BOOKING_LOOKBACK = dt.timedelta(days=2)
SETTLE = dt.timedelta(minutes=10)  # longer than any grant transaction (a 100,000-client accrual: ~1 min)


def _stage_matches(campaign: Campaign, deal: CrmDealView, previous: tuple[str, str]) -> bool:
    if (campaign.to_pipeline and campaign.to_pipeline != deal.pipeline_id) or campaign.to_stage != deal.stage_id:
        return False
    if campaign.from_stage:
        return (campaign.from_pipeline or previous[0], campaign.from_stage) == previous
    return True


def on_deal_moved(sender: Any, connection: Connection, deal: CrmDealView, previous: tuple[str, str],
                  **kwargs: Any) -> None:
    """NPS surveys and deal-stage notifications for the deal's client (runs in the transaction
    that records the move: a redelivered event finds the move recorded and comes to nothing)."""
    campaigns = list(Campaign.objects.filter(active=True, crm_connection=connection, to_stage=deal.stage_id)
                     .filter(kind__in=[Campaign.Kind.NPS, Campaign.Kind.TRIGGER]).select_related("template"))
    campaigns = [c for c in campaigns if _stage_matches(c, deal, previous)
                 and (c.kind == Campaign.Kind.NPS or c.trigger == Campaign.Trigger.DEAL_STAGE)]
    if not campaigns or not deal.contact_id:
        return
    ref = ExternalRef.objects.filter(connection=connection, kind="contact", external_id=deal.contact_id).first()
    contact = Contact.objects.filter(pk=ref.local_id, merged_into__isnull=True).first() if ref else None
    if contact is None:
        log.info("deal %s moved, but its contact is not known to the hub: no message", deal.id)
        return
    for campaign in campaigns:
        if campaign.kind == Campaign.Kind.NPS:
            nps_ask(campaign, contact, connection, deal)
        else:
            messages_queue(campaign, [Recipient(contact.pk, f"trigger:{campaign.pk}:deal:{connection.pk}:{deal.id}:"
                                                            f"{deal.stage_id}", {"deal_title": deal.title})])


def trigger_start(campaign: Campaign) -> None:
    """A new points trigger starts from now: it must not notify about last year's points."""
    if campaign.trigger == Campaign.Trigger.BONUS_ACCRUED and not campaign.cursor:
        campaign.cursor = Entry.objects.aggregate(last=Max("pk"))["last"] or 0


def _bonus_accrued(campaign: Campaign, now: dt.datetime) -> int:
    """Entries after the cursor, notified once each (keyed by entry). The cursor only passes
    entries older than ``SETTLE``: a grant whose transaction commits late has a lower id than
    entries already seen, and is still read by a later scan."""
    queued = 0
    settled = now - SETTLE
    while True:
        with transaction.atomic():
            locked = Campaign.objects.select_for_update(of=("self",)).select_related("template").get(pk=campaign.pk)
            entries = list(Entry.objects.filter(pk__gt=locked.cursor, points__gt=0,
                                                kind__in=[Entry.Kind.EARN, Entry.Kind.ADJUST])
                           .order_by("pk").values_list("pk", "account__contact_id", "points", "reason",
                                                       "created_at")[:SCAN_CHUNK])
            if not entries:
                return queued
            result = messages_queue(locked, [
                Recipient(contact_id, f"trigger:{locked.pk}:entry:{pk}", {"bonus_points": points, "reason": reason})
                for pk, contact_id, points, reason, _ in entries], now=now)
            queued += len(result.messages)
            settled_up_to = 0  # the cursor passes the leading run of settled entries only
            for pk, *_, created in entries:
                if created >= settled:
                    break
                settled_up_to = pk
            if settled_up_to:
                locked.cursor = settled_up_to
                locked.save(update_fields=["cursor"])
        if len(entries) < SCAN_CHUNK or settled_up_to != entries[-1][0]:
            return queued


def _booking_confirmed(campaign: Campaign, now: dt.datetime) -> int:
    tz = ZoneInfo(campaign.time_zone)
    bookings = (Booking.objects.filter(status=Booking.Status.CONFIRMED, updated_at__gte=now - BOOKING_LOOKBACK,
                                       starts_at__gte=now).values_list("pk", "contact_id", "starts_at"))
    with transaction.atomic():
        result = messages_queue(campaign, [
            Recipient(contact_id, f"trigger:{campaign.pk}:booking:{pk}",
                      {"booking_date": f"{starts.astimezone(tz):%d.%m.%Y %H:%M}"})
            for pk, contact_id, starts in bookings], now=now)
    return len(result.messages)


def triggers_scan(now: dt.datetime | None = None) -> int:
    """Every minute: notifications for points accrued and bookings confirmed since the last scan."""
    now = now or timezone.now()
    queued = 0
    for campaign in Campaign.objects.filter(active=True, kind=Campaign.Kind.TRIGGER).select_related("template"):
        if campaign.trigger == Campaign.Trigger.BONUS_ACCRUED:
            queued += _bonus_accrued(campaign, now)
        elif campaign.trigger == Campaign.Trigger.BOOKING_CONFIRMED:
            queued += _booking_confirmed(campaign, now)
    return queued
