"""Daily loyalty jobs (scheduled in CELERY_BEAT_SCHEDULE): expiry, birthday bonuses, levels
(downgrades after their grace period), and the nightly reconciliation with external programs."""

from __future__ import annotations

from celery import shared_task

from loyalty.models import BirthdayBonus, Program
from loyalty.services.campaigns import birthday_bonuses_run
from loyalty.services.ledger import ledger_expire
from loyalty.services.programs import program_reconcile
from loyalty.services.tiers import tiers_daily


@shared_task(name="loyalty.expire")
def expire_points() -> int:
    return ledger_expire()


@shared_task(name="loyalty.birthday_bonuses")
def birthday_bonuses() -> int:
    return sum(birthday_bonuses_run(rule) for rule in BirthdayBonus.objects.filter(active=True, program__active=True)
               .select_related("program"))


@shared_task(name="loyalty.reconcile")
def reconcile_programs() -> int:
    """Returns how many accounts were corrected."""
    return sum(program_reconcile(program).differences for program in Program.objects.filter(
        active=True, connection__isnull=False, connection__enabled=True).select_related("connection"))


@shared_task(name="loyalty.tiers_daily")
def tiers_recompute() -> int:
    """Returns how many clients changed level."""
    return tiers_daily()
