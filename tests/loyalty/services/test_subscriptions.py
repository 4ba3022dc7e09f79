"""Subscriptions: issued once per key for the plan's days; the usable one for a pass (or why
none, for the controller); a pass through a covered point takes one visit, once per pass,
also when the signal comes twice or turnstiles race; freezing moves the end and stops
passes meanwhile; unfreezing early gives the unused days back."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from hub.models import Contact, Pass, Product, ServicePoint
from hub.services.connections import connection_upsert
from hub.services.sales import pass_record, pass_recorded
from loyalty.models import Subscription, SubscriptionPlan, SubscriptionVisit
from loyalty.services.subscriptions import (
    subscription_check,
    subscription_freeze,
    subscription_issue,
    subscription_unfreeze,
    subscription_use,
)
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db
D = Decimal
DAY = dt.date(2026, 3, 1)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    """Noon (by default) in Moscow on ``day``."""
    return dt.datetime(day.year, day.month, day.day, hour - 3, tzinfo=dt.UTC)


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна", phone="+79990000001")


@pytest.fixture
def pool():
    return ServicePoint.objects.create(name="Бассейн, турникет 1")


@pytest.fixture
def gym():
    return ServicePoint.objects.create(name="Тренажёрный зал")


@pytest.fixture
def visits_plan(pool):
    plan = SubscriptionPlan.objects.create(name="Бассейн, 2 визита", kind="visits", visits=2, days=30,
                                           max_freeze_days=10)
    plan.service_points.add(pool)
    return plan


@pytest.fixture
def unlimited():
    return SubscriptionPlan.objects.create(name="Безлимит", kind="unlimited", days=10)


# issuing ----------------------------------------------------------------------------------
def test_issue_sets_the_period_and_visits_once_per_key(visits_plan, unlimited, anna):
    subscription = subscription_issue(visits_plan, anna, key="k1", starts_on=DAY)
    assert (subscription.starts_on, subscription.ends_on, subscription.visits_left) == (DAY, dt.date(2026, 3, 30), 2)
    assert subscription_issue(visits_plan, anna, key="k1", starts_on=DAY + dt.timedelta(days=5)).pk == subscription.pk
    other = subscription_issue(unlimited, anna, key="k2", starts_on=DAY)
    assert (other.ends_on, other.visits_left) == (dt.date(2026, 3, 10), None)
    assert Subscription.objects.count() == 2
    unlimited.active = False
    unlimited.save()
    with pytest.raises(ValidationError, match="больше не выпускаются"):
        subscription_issue(unlimited, anna, key="k3")


# which one, or why none -------------------------------------------------------------------
def _frozen(plan, anna):
    subscription = subscription_issue(plan, anna, key="f", starts_on=DAY)
    subscription_freeze(subscription, DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=11))


def _used_up(plan, anna):
    Subscription.objects.filter(pk=subscription_issue(plan, anna, key="u", starts_on=DAY).pk).update(visits_left=0)


def _expired(plan, anna):
    subscription_issue(plan, anna, key="e", starts_on=DAY - dt.timedelta(days=40))


def _future(plan, anna):
    subscription_issue(plan, anna, key="n", starts_on=DAY + dt.timedelta(days=20))


def _cancelled(plan, anna):
    Subscription.objects.filter(pk=subscription_issue(plan, anna, key="c", starts_on=DAY).pk).update(
        status="cancelled")


def _usable(plan, anna):
    subscription_issue(plan, anna, key="ok", starts_on=DAY)


@pytest.mark.parametrize(("make", "where", "reason"), [
    (lambda plan, anna: None, "pool", "У клиента нет абонемента на эту услугу."),
    (_usable, "gym", "У клиента нет абонемента на эту услугу."),  # the plan is for the pool only
    (_usable, None, "У клиента нет абонемента на эту услугу."),  # a pass with no service point
    (_cancelled, "pool", "У клиента нет абонемента на эту услугу."),
    (_frozen, "pool", "Абонемент «Бассейн, 2 визита» заморожен до 12.03.2026 включительно."),
    (_used_up, "pool", "По абонементу «Бассейн, 2 визита» визиты закончились."),
    (_expired, "pool", "Срок абонемента «Бассейн, 2 визита» закончился 18.02.2026."),
    (_future, "pool", "Абонемент «Бассейн, 2 визита» начнёт действовать 21.03.2026."),
    (_usable, "pool", ""),
])
def test_check_tells_why_no_subscription_is_usable(visits_plan, anna, pool, gym, make, where, reason):
    make(visits_plan, anna)
    point = {"pool": pool, "gym": gym, None: None}[where]
    subscription, why = subscription_check(anna, service_point=point, at=at(DAY + dt.timedelta(days=7)))
    assert why == reason
    assert (subscription is None) == bool(reason)


def test_the_day_is_the_venue_s_and_the_soonest_ending_one_is_used(visits_plan, unlimited, anna, pool):
    later = subscription_issue(visits_plan, anna, key="a", starts_on=DAY)  # until 30.03
    sooner = subscription_issue(unlimited, anna, key="b", starts_on=DAY)  # until 10.03
    assert subscription_check(anna, service_point=pool, at=at(dt.date(2026, 3, 10), 23))[0] == sooner
    # 22:30 UTC on 10.03 is already 01:30 on 11.03 in Moscow: the unlimited one has ended
    late = dt.datetime(2026, 3, 10, 22, 30, tzinfo=dt.UTC)
    assert subscription_check(anna, service_point=pool, at=late)[0] == later


def test_a_plan_for_some_services_covers_only_those(anna):
    swim = Product.objects.create(name="Плавание")
    yoga = Product.objects.create(name="Йога")
    plan = SubscriptionPlan.objects.create(name="Только плавание", kind="unlimited", days=30)
    plan.products.add(swim)
    subscription_issue(plan, anna, key="s", starts_on=DAY)
    assert subscription_check(anna, product=swim, at=at(DAY))[0] is not None
    assert subscription_check(anna, product=yoga, at=at(DAY))[1] == "У клиента нет абонемента на эту услугу."


# passes -----------------------------------------------------------------------------------
def test_a_pass_uses_one_visit_even_if_the_signal_fires_twice(visits_plan, anna, pool):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    turnstile, _ = connection_upsert(name="Турникеты", system="webhook", base_url="http://127.0.0.1:9")
    row, _ = pass_record(passed_at=at(DAY), contact=anna, service_point=pool, connection=turnstile, external_id="P1")
    pass_recorded.send(sender=Pass, pass_row=row)  # delivered again
    pass_record(passed_at=at(DAY), contact=anna, service_point=pool, connection=turnstile, external_id="P1")
    visit = SubscriptionVisit.objects.get()
    assert (visit.subscription, visit.pass_row, visit.at) == (subscription, row, at(DAY))
    assert subscription_use(row) == visit
    subscription.refresh_from_db()
    assert subscription.visits_left == 1


def test_visits_run_out_and_other_points_do_not_use_them(visits_plan, anna, pool, gym):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    pass_record(passed_at=at(DAY), contact=anna, service_point=gym)
    for hour in (10, 12, 14):
        pass_record(passed_at=at(DAY, hour), contact=anna, service_point=pool)
    assert SubscriptionVisit.objects.count() == 2
    assert list(SubscriptionVisit.objects.values_list("pass_row__passed_at", flat=True).order_by("at")) == [
        at(DAY, 10), at(DAY, 12)]
    subscription.refresh_from_db()
    assert subscription.visits_left == 0
    nobody, _ = pass_record(passed_at=at(DAY), service_point=pool)  # an anonymous pass
    assert subscription_use(nobody) is None


@pytest.mark.django_db(transaction=True)
def test_turnstiles_racing_never_take_more_visits_than_left(visits_plan, anna, pool):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    errors = run_at_once(6, lambda i: pass_record(passed_at=at(DAY, 10 + i), contact=anna, service_point=pool))
    assert errors == []
    assert Pass.objects.count() == 6 and SubscriptionVisit.objects.count() == 2
    subscription.refresh_from_db()
    assert subscription.visits_left == 0


# freezing ---------------------------------------------------------------------------------
def test_freezing_extends_the_end_and_blocks_passes_meanwhile(visits_plan, anna, pool):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    frozen = subscription_freeze(subscription, dt.date(2026, 3, 10), dt.date(2026, 3, 16))
    assert (frozen.ends_on, frozen.freeze_days_used) == (dt.date(2026, 4, 6), 7)
    row, _ = pass_record(passed_at=at(dt.date(2026, 3, 16)), contact=anna, service_point=pool)
    assert not SubscriptionVisit.objects.exists()
    assert subscription_check(anna, service_point=pool, at=row.passed_at)[1] == (
        "Абонемент «Бассейн, 2 визита» заморожен до 16.03.2026 включительно.")
    pass_record(passed_at=at(dt.date(2026, 3, 17)), contact=anna, service_point=pool)
    pass_record(passed_at=at(dt.date(2026, 4, 6)), contact=anna, service_point=pool)  # the moved last day
    assert SubscriptionVisit.objects.count() == 2


@pytest.mark.parametrize(("setup", "start", "end", "message"), [
    ("no freezing", (3, 5), (3, 6), "нельзя заморозить"),
    ("", (3, 5), (3, 15), "всего на 10 дн.: уже использовано 0, запрошено 11"),
    ("frozen", (3, 11), (3, 13), "уже заморожен с 10.03.2026 по 12.03.2026"),
    ("frozen", (3, 5), (3, 6), "уже заморожен с 10.03.2026 по 12.03.2026"),  # one freeze at a time
    ("used 8", (3, 20), (3, 22), "уже использовано 8, запрошено 3"),
    ("", (2, 28), (3, 2), "в сроке абонемента: с 01.03.2026 по 30.03.2026"),
    ("", (3, 29), (3, 31), "в сроке абонемента"),
    ("", (3, 6), (3, 5), "Конец заморозки раньше её начала"),
    ("cancelled", (3, 5), (3, 6), "отменён"),
])
def test_freeze_refusals(visits_plan, anna, setup, start, end, message):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    if setup == "no freezing":
        SubscriptionPlan.objects.filter(pk=visits_plan.pk).update(max_freeze_days=0)
    elif setup == "frozen":
        subscription_freeze(subscription, dt.date(2026, 3, 10), dt.date(2026, 3, 12))
    elif setup == "used 8":
        Subscription.objects.filter(pk=subscription.pk).update(freeze_days_used=8)
    elif setup == "cancelled":
        Subscription.objects.filter(pk=subscription.pk).update(status="cancelled")
    before = Subscription.objects.get(pk=subscription.pk)
    with pytest.raises(ValidationError, match=re.escape(message)):
        subscription_freeze(subscription, dt.date(2026, *start), dt.date(2026, *end))
    after = Subscription.objects.get(pk=subscription.pk)
    assert (after.ends_on, after.freeze_days_used, after.frozen_from) == (
        before.ends_on, before.freeze_days_used, before.frozen_from)


def test_a_second_freeze_after_the_first_one_counts_towards_the_total(visits_plan, anna):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    subscription_freeze(subscription, dt.date(2026, 3, 5), dt.date(2026, 3, 10))
    again = subscription_freeze(subscription, dt.date(2026, 3, 20), dt.date(2026, 3, 23))
    assert (again.frozen_from, again.ends_on, again.freeze_days_used) == (dt.date(2026, 3, 20), dt.date(2026, 4, 9),
                                                                          10)


def test_unfreezing_early_gives_the_unused_days_back(visits_plan, anna, pool):
    subscription = subscription_issue(visits_plan, anna, key="s", starts_on=DAY)
    subscription_freeze(subscription, dt.date(2026, 3, 10), dt.date(2026, 3, 19))  # 10 days, until 09.04
    thawed = subscription_unfreeze(subscription, dt.date(2026, 3, 13))  # frozen 10–12 only
    assert (thawed.frozen_from, thawed.frozen_until) == (dt.date(2026, 3, 10), dt.date(2026, 3, 12))
    assert (thawed.ends_on, thawed.freeze_days_used) == (dt.date(2026, 4, 2), 3)
    pass_record(passed_at=at(dt.date(2026, 3, 13)), contact=anna, service_point=pool)
    assert SubscriptionVisit.objects.count() == 1
    with pytest.raises(ValidationError, match=re.escape("не заморожен на 13.03.2026")):
        subscription_unfreeze(subscription, dt.date(2026, 3, 13))
    cancelled = subscription_unfreeze(subscription, dt.date(2026, 3, 1))  # the whole freeze undone
    assert (cancelled.frozen_from, cancelled.frozen_until, cancelled.ends_on, cancelled.freeze_days_used) == (
        None, None, dt.date(2026, 3, 30), 0)
