"""Daily loyalty jobs (scheduled in CELERY_BEAT_SCHEDULE): expiry and birthday bonuses."""

from __future__ import annotations

from celery import shared_task

from loyalty.models import BirthdayBonus
from loyalty.services.campaigns import birthday_bonuses_run
from loyalty.services.ledger import ledger_expire


@shared_task(name="loyalty.expire")
def expire_points() -> int:
    return ledger_expire()


@shared_task(name="loyalty.birthday_bonuses")
def birthday_bonuses() -> int:
    return sum(birthday_bonuses_run(rule) for rule in BirthdayBonus.objects.filter(active=True, program__active=True)
               .select_related("program"))
