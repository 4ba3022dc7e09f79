"""Campaign schedules live in django-celery-beat (visible and editable in admin): created,
moved and switched off with the campaign; event campaigns get none; the task runs the
campaign once per occasion."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from mailings.models import Campaign, Message
from mailings.services.schedules import RUN_TASK, campaign_save
from mailings.tasks import campaign_run_task

pytestmark = pytest.mark.django_db


def test_daily_campaigns_get_a_periodic_task_at_their_local_time_that_follows_edits(campaign, email_channel):
    birthday = campaign(Campaign.Kind.BIRTHDAY, send_time=dt.time(10, 30), time_zone="Asia/Yekaterinburg")
    task = PeriodicTask.objects.get()
    assert (task.task, json.loads(task.args), task.enabled) == (RUN_TASK, [birthday.pk], True)
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("10", "30", "Asia/Yekaterinburg")
    birthday.send_time, birthday.active = dt.time(9, 0), False
    campaign_save(birthday)
    task.refresh_from_db()
    assert (task.crontab.hour, task.enabled) == ("9", False)
    assert PeriodicTask.objects.count() == 1
    birthday.kind, birthday.trigger = Campaign.Kind.TRIGGER, Campaign.Trigger.BOOKING_CONFIRMED
    campaign_save(birthday)
    assert not PeriodicTask.objects.exists() and birthday.periodic_task is None


def test_a_scheduled_segment_mailing_is_a_one_off_clocked_task(campaign, email_channel):
    when = timezone.now() + dt.timedelta(days=1)
    mailing = campaign(Campaign.Kind.SEGMENT, scheduled_at=when)
    task = PeriodicTask.objects.get(pk=mailing.periodic_task_id)
    assert task.one_off and task.clocked.clocked_time == when and task.crontab is None


def test_the_scheduled_task_runs_a_segment_mailing_once_however_often_it_fires(campaign, person, email_channel):
    person("Анна")
    mailing = campaign(Campaign.Kind.SEGMENT, scheduled_at=timezone.now())
    assert campaign_run_task(mailing.pk) == 1
    assert campaign_run_task(mailing.pk) == 1  # the same run: nothing new
    assert Message.objects.count() == 1
    assert campaign_run_task(999999) == 0
