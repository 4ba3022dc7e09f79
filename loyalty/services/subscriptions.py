"""Subscriptions (абонементы): issued once per key, frozen within the plan's allowance (the
end moves by the frozen days), and used by passes: a pass through a covered service point
takes one visit, once per pass, under a lock of the subscription so two turnstiles never
take the last visit twice. Days are the venue's (the main program's time zone)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from hub.models import Contact, Pass, Product, ServicePoint
from loyalty.models import Program, Subscription, SubscriptionPlan, SubscriptionVisit

log = logging.getLogger(__name__)


def venue_zone() -> ZoneInfo:
    """The main program's time zone (where the venue is), else the project's."""
    name = Program.objects.filter(code="main").values_list("time_zone", flat=True).first()
    return ZoneInfo(name or settings.TIME_ZONE or "Europe/Moscow")


def venue_day(at: dt.datetime) -> dt.date:
    return at.astimezone(venue_zone()).date()


def _d(day: dt.date) -> str:
    return f"{day:%d.%m.%Y}"


def subscription_issue(plan: SubscriptionPlan, contact: Contact, *, key: str,
                       starts_on: dt.date | None = None) -> Subscription:
    """From ``starts_on`` (default: today at the venue) for the plan's days, both ends
    inclusive; the same ``key`` again returns the first one."""
    if (seen := Subscription.objects.filter(issue_key=key).first()) is not None:
        return seen
    if not plan.active:
        raise ValidationError(f"Абонементы «{plan}» больше не выпускаются.")
    if plan.days < 1:
        raise ValidationError(f"У абонемента «{plan}» не указан срок действия.")
    visits = None
    if plan.kind == SubscriptionPlan.Kind.VISITS:
        if not plan.visits:
            raise ValidationError(f"У абонемента «{plan}» не указано число визитов.")
        visits = plan.visits
    starts_on = starts_on or venue_day(timezone.now())
    try:
        with transaction.atomic():
            subscription = Subscription.objects.create(
                plan=plan, contact=contact, starts_on=starts_on, ends_on=starts_on + dt.timedelta(days=plan.days - 1),
                visits_left=visits, issue_key=key)
    except IntegrityError:  # issued by a concurrent call with the same key
        return Subscription.objects.get(issue_key=key)
    log.info("subscription %s issued (plan %s)", subscription.pk, plan.pk)
    return subscription


def subscription_freeze(subscription: Subscription, from_day: dt.date, until_day: dt.date) -> Subscription:
    """Frozen from ``from_day`` to ``until_day`` inclusive: no visits then, and the end moves
    by as many days. Within the plan's total allowance, one freeze at a time."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=subscription.pk)
        plan = subscription.plan
        if subscription.status != Subscription.Status.ACTIVE:
            raise ValidationError("Абонемент отменён: заморозить его нельзя.")
        if not plan.max_freeze_days:
            raise ValidationError(f"Абонемент «{plan}» нельзя заморозить.")
        if until_day < from_day:
            raise ValidationError("Конец заморозки раньше её начала.")
        if subscription.frozen_until is not None and subscription.frozen_until >= from_day:
            raise ValidationError(f"Абонемент уже заморожен с {_d(subscription.frozen_from or from_day)} "
                                  f"по {_d(subscription.frozen_until)}.")
        if from_day < subscription.starts_on or until_day > subscription.ends_on:
            raise ValidationError(f"Заморозка должна быть в сроке абонемента: с {_d(subscription.starts_on)} "
                                  f"по {_d(subscription.ends_on)}.")
        days = (until_day - from_day).days + 1
        if subscription.freeze_days_used + days > plan.max_freeze_days:
            raise ValidationError(f"Заморозить можно всего на {plan.max_freeze_days} дн.: уже использовано "
                                  f"{subscription.freeze_days_used}, запрошено {days}.")
        subscription.frozen_from, subscription.frozen_until = from_day, until_day
        subscription.freeze_days_used += days
        subscription.ends_on += dt.timedelta(days=days)
        subscription.save(update_fields=["frozen_from", "frozen_until", "freeze_days_used", "ends_on"])
    log.info("subscription %s frozen for %s days", subscription.pk, days)
    return subscription


def subscription_unfreeze(subscription: Subscription, on_day: dt.date) -> Subscription:
    """Usable again from ``on_day``: the frozen days not used are given back (the end moves
    back by them and they count towards the allowance again)."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
        start, end = subscription.frozen_from, subscription.frozen_until
        if start is None or end is None or on_day > end:
            raise ValidationError(f"Абонемент не заморожен на {_d(on_day)}.")
        resume = max(on_day, start)
        unused = (end - resume).days + 1
        if resume == start:
            subscription.frozen_from = subscription.frozen_until = None
        else:
            subscription.frozen_until = resume - dt.timedelta(days=1)
        subscription.freeze_days_used = max(0, subscription.freeze_days_used - unused)
        subscription.ends_on -= dt.timedelta(days=unused)
        subscription.save(update_fields=["frozen_from", "frozen_until", "freeze_days_used", "ends_on"])
    log.info("subscription %s unfrozen, %s days given back", subscription.pk, unused)
    return subscription


def _covers(plan: SubscriptionPlan, service_point: ServicePoint | None, product: Product | None) -> bool:
    points = {p.pk for p in plan.service_points.all()}
    products = {p.pk for p in plan.products.all()}
    if points and (service_point is None or service_point.pk not in points):
        return False
    return not products or (product is not None and product.pk in products)


def _frozen(subscription: Subscription, day: dt.date) -> bool:
    start, end = subscription.frozen_from, subscription.frozen_until
    return start is not None and end is not None and start <= day <= end


def subscription_check(contact: Contact, *, service_point: ServicePoint | None = None,
                       product: Product | None = None, at: dt.datetime) -> tuple[Subscription | None, str]:
    """The subscription a visit at ``at`` would use (of several: the one ending soonest), or
    None and why not, in Russian for the controller."""
    day = venue_day(at)
    rows = (Subscription.objects.filter(contact=contact, status=Subscription.Status.ACTIVE)
            .select_related("plan").prefetch_related("plan__service_points", "plan__products")
            .order_by("ends_on", "pk"))
    covering = [s for s in rows if _covers(s.plan, service_point, product)]
    usable = [s for s in covering if s.starts_on <= day <= s.ends_on and not _frozen(s, day)
              and (s.plan.kind != SubscriptionPlan.Kind.VISITS or (s.visits_left or 0) > 0)]
    if usable:
        return usable[0], ""
    for subscription in covering:
        if _frozen(subscription, day):
            assert subscription.frozen_until is not None
            return None, f"Абонемент «{subscription.plan}» заморожен до {_d(subscription.frozen_until)} включительно."
    for subscription in covering:
        if subscription.starts_on <= day <= subscription.ends_on:  # in dates, not frozen: no visits left
            return None, f"По абонементу «{subscription.plan}» визиты закончились."
    for subscription in covering:
        if day < subscription.starts_on:
            return None, f"Абонемент «{subscription.plan}» начнёт действовать {_d(subscription.starts_on)}."
    if covering:
        last = covering[-1]
        return None, f"Срок абонемента «{last.plan}» закончился {_d(last.ends_on)}."
    return None, "У клиента нет абонемента на эту услугу."


def subscription_use(pass_row: Pass) -> SubscriptionVisit | None:
    """The visit this pass made on the client's subscription (a second call for the same pass
    returns it); None when no subscription covers the pass."""
    if pass_row.contact_id is None:
        return None
    if (seen := SubscriptionVisit.objects.filter(pass_row=pass_row).first()) is not None:
        return seen
    subscription, reason = subscription_check(pass_row.contact, service_point=pass_row.service_point,
                                              product=pass_row.product, at=pass_row.passed_at)
    if subscription is None:
        log.info("pass %s uses no subscription: %s", pass_row.pk, reason)
        return None
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().select_related("plan").get(pk=subscription.pk)
        if (seen := SubscriptionVisit.objects.filter(pass_row=pass_row).first()) is not None:
            return seen
        visits = locked.plan.kind == SubscriptionPlan.Kind.VISITS
        if locked.status != Subscription.Status.ACTIVE or (visits and (locked.visits_left or 0) <= 0):
            log.info("pass %s: subscription %s was used up meanwhile", pass_row.pk, locked.pk)
            return None
        try:
            with transaction.atomic():
                visit = SubscriptionVisit.objects.create(subscription=locked, pass_row=pass_row,
                                                         at=pass_row.passed_at)
        except IntegrityError:  # the same pass on another subscription, concurrently
            return SubscriptionVisit.objects.filter(pass_row=pass_row).first()
        if visits:
            Subscription.objects.filter(pk=locked.pk).update(visits_left=F("visits_left") - 1)
    return visit


def on_pass_recorded(sender: Any, pass_row: Pass, **kwargs: Any) -> None:
    subscription_use(pass_row)
