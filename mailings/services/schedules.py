"""Campaign schedules as django-celery-beat periodic tasks, so an operator sees and edits
them in admin (Periodic tasks) like every other job: daily campaigns at their local send
time, a segment mailing once at its scheduled moment; event campaigns need none."""

from __future__ import annotations

import json

from django.db import transaction
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask

from mailings.models import Campaign
from mailings.services.campaigns import campaign_check
from mailings.services.triggers import trigger_start

RUN_TASK = "mailings.campaign_run"


def _schedule(campaign: Campaign) -> dict[str, object] | None:
    if campaign.kind in (Campaign.Kind.BIRTHDAY, Campaign.Kind.LAPSED):
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=str(campaign.send_time.minute), hour=str(campaign.send_time.hour), day_of_week="*",
            day_of_month="*", month_of_year="*", timezone=campaign.time_zone)
        return {"crontab": crontab, "clocked": None, "one_off": False}
    if campaign.kind == Campaign.Kind.SEGMENT and campaign.scheduled_at:
        clocked, _ = ClockedSchedule.objects.get_or_create(clocked_time=campaign.scheduled_at)
        return {"crontab": None, "clocked": clocked, "one_off": True}
    return None


@transaction.atomic
def campaign_save(campaign: Campaign) -> Campaign:
    """Check, store, and keep the campaign's periodic task in step (created, moved, switched
    off with the campaign, removed when it no longer needs one)."""
    campaign_check(campaign)
    trigger_start(campaign)
    campaign.save()
    schedule = _schedule(campaign)
    task = campaign.periodic_task
    if schedule is None:
        if task is not None:
            Campaign.objects.filter(pk=campaign.pk).update(periodic_task=None)
            task.delete()
            campaign.periodic_task = None
        return campaign
    fired = bool(schedule["one_off"] and task is not None and task.total_run_count)
    values = {"name": f"Рассылка: {campaign.name}"[:200], "task": RUN_TASK, "args": json.dumps([campaign.pk]),
              "enabled": campaign.active and not fired, **schedule}
    if task is None:
        task = PeriodicTask.objects.create(**values)
        campaign.periodic_task = task
        Campaign.objects.filter(pk=campaign.pk).update(periodic_task=task)
    else:
        for name, value in values.items():
            setattr(task, name, value)
        task.save()
    return campaign
