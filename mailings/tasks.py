"""Thin Celery tasks: a campaign's scheduled run (started by its django-celery-beat periodic
task) and the minute-by-minute trigger scan."""

from __future__ import annotations

from celery import shared_task

from mailings.models import Campaign
from mailings.services.campaigns import campaign_run
from mailings.services.triggers import triggers_scan


@shared_task(name="mailings.campaign_run")
def campaign_run_task(campaign_id: int) -> int:
    """Daily campaigns run once per local date; a scheduled segment mailing once per schedule."""
    campaign = Campaign.objects.filter(pk=campaign_id, active=True).select_related("template", "segment").first()
    if campaign is None:
        return 0
    key = f"scheduled:{campaign.scheduled_at:%Y-%m-%dT%H:%M}" if campaign.kind == Campaign.Kind.SEGMENT else ""
    return campaign_run(campaign, key=key).queued


@shared_task(name="mailings.triggers_scan")
def triggers_scan_task() -> int:
    return triggers_scan()
