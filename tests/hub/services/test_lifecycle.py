"""Lifecycle stages: the pure decision at every boundary and transition, and the daily job on
real rows over several days (changes logged once, same-day reruns change nothing, merged
contacts skipped, refunds ignored, segment sizes counted), in bulk with a fixed number of
queries however many contacts there are."""

import datetime as dt
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import (
    ClientLifecycle,
    Contact,
    LifecycleChange,
    LifecyclePolicy,
    Pass,
    Purchase,
    Segment,
    Stage,
)
from hub.services import lifecycle
from hub.services.lifecycle import lifecycle_daily, lifecycle_policy, lifecycle_stage

MSK = ZoneInfo("Europe/Moscow")
TODAY = dt.date(2026, 6, 1)
POLICY = LifecyclePolicy(new_days=30, lapsing_after_days=60, lost_after_days=180, returned_days=30)
LONG_AGO = TODAY - dt.timedelta(days=1000)


def ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


N, A, LA, LO, R = Stage.NEW, Stage.ACTIVE, Stage.LAPSING, Stage.LOST, Stage.RETURNED

# (why, first activity, last activity, joined, previous stage, previous since, expected stage, expected since)
CASES = [
    ("joined today, nothing bought", None, None, TODAY, "", None, N, TODAY),
    ("joined 29 days ago: still new", None, None, ago(29), "", None, N, TODAY),
    ("joined exactly 30 days ago: no longer new", None, None, ago(30), N, ago(29), A, TODAY),
    ("never active, joined 59 days ago", None, None, ago(59), A, ago(20), A, ago(20)),
    ("never active, joined exactly 60 days ago", None, None, ago(60), A, ago(20), LA, TODAY),
    ("never active, joined exactly 180 days ago", None, None, ago(180), LA, ago(100), LO, TODAY),
    ("first purchase 29 days ago, joined long before", ago(29), ago(29), LONG_AGO, "", None, N, TODAY),
    ("first purchase exactly 30 days ago", ago(30), ago(30), LONG_AGO, N, ago(29), A, TODAY),
    ("last visit 59 days ago", ago(300), ago(59), LONG_AGO, A, ago(200), A, ago(200)),
    ("last visit exactly 60 days ago", ago(300), ago(60), LONG_AGO, A, ago(200), LA, TODAY),
    ("last visit 179 days ago", ago(300), ago(179), LONG_AGO, LA, ago(119), LA, ago(119)),
    ("last visit exactly 180 days ago", ago(300), ago(180), LONG_AGO, LA, ago(119), LO, TODAY),
    ("a lost client comes back today", ago(400), TODAY, LONG_AGO, LO, ago(10), R, TODAY),
    ("a lost client's return imported late", ago(400), ago(3), LONG_AGO, LO, ago(10), R, ago(3)),
    ("a lapsing client comes back: active, not returned", ago(400), TODAY, LONG_AGO, LA, ago(10), A, TODAY),
    ("returned 29 days ago, not seen since", ago(400), ago(29), LONG_AGO, R, ago(29), R, ago(29)),
    ("returned 29 days ago, came again yesterday", ago(400), ago(1), LONG_AGO, R, ago(29), R, ago(29)),
    ("returned exactly 30 days ago: active", ago(400), ago(1), LONG_AGO, R, ago(30), A, TODAY),
    ("an active client stays, since kept", ago(400), ago(5), LONG_AGO, A, ago(100), A, ago(100)),
    ("lost and still away", ago(400), ago(300), LONG_AGO, LO, ago(120), LO, ago(120)),
    ("lost without ever buying, first purchase today: new", TODAY, TODAY, LONG_AGO, LO, ago(5), N, TODAY),
    ("first computation of a lost client", ago(400), ago(200), LONG_AGO, "", None, LO, TODAY),
]


@pytest.mark.parametrize(("first", "last", "joined", "previous", "since", "stage", "expected_since"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_lifecycle_stage(first, last, joined, previous, since, stage, expected_since):
    decision = lifecycle_stage(first_activity=first, last_activity=last, joined=joined, previous=previous,
                               previous_since=since, today=TODAY, policy=POLICY)
    assert (decision.stage, decision.since) == (stage, expected_since)


def test_returned_then_active_day_by_day():
    """A lost client comes back, is RETURNED for exactly returned_days, then ACTIVE."""
    back = ago(0)
    stage, since = Stage.LOST, ago(50)
    seen = []
    for day in range(0, 32):
        today = back + dt.timedelta(days=day)
        decision = lifecycle_stage(first_activity=ago(500), last_activity=back, joined=LONG_AGO, previous=stage,
                                   previous_since=since, today=today, policy=POLICY)
        stage, since = decision
        seen.append(stage)
    assert seen[:30] == [Stage.RETURNED] * 30 and seen[30:] == [Stage.ACTIVE] * 2
    assert since == back + dt.timedelta(days=30)


# ---------------------------------------------------------------- the daily job on real rows


def moscow(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=MSK)


def clock(day: dt.date, hour: int = 12) -> mock._patch:
    return mock.patch("django.utils.timezone.now", return_value=moscow(day, hour).astimezone(dt.UTC))


def joined(contact: Contact, day: dt.date) -> Contact:
    Contact.objects.filter(pk=contact.pk).update(created_at=moscow(day))
    return contact


def stages() -> dict[str, str]:
    return {row.contact.first_name: row.stage for row in ClientLifecycle.objects.select_related("contact")}


def history(contact: Contact) -> list[tuple[str, str, dt.date]]:
    return list(LifecycleChange.objects.filter(contact=contact).order_by("pk")
                .values_list("from_stage", "to_stage", "changed_on"))


@pytest.mark.django_db
def test_daily_over_several_days_logs_each_change_once_and_counts_segments():
    LifecyclePolicy.objects.create(new_days=7, lapsing_after_days=14, lost_after_days=30, returned_days=10)
    day0 = dt.date(2026, 3, 1)
    returned = Segment.objects.create(name="Вернулись", rules={"lifecycle": "returned"})
    with clock(day0):
        anna = Contact.objects.create(first_name="Анна")
        Purchase.objects.create(contact=anna, purchased_at=moscow(day0, 10), total=Decimal(500))
        boris = joined(Contact.objects.create(first_name="Борис"), day0 - dt.timedelta(days=100))
        Pass.objects.create(contact=boris, passed_at=moscow(day0 - dt.timedelta(days=40)))
        vera = joined(Contact.objects.create(first_name="Вера"), day0 - dt.timedelta(days=20))
        Purchase.objects.create(contact=vera, purchased_at=moscow(day0 - dt.timedelta(days=2)),
                                status=Purchase.Status.REFUNDED)  # a refund is not a visit
        olga = joined(Contact.objects.create(first_name="Ольга"), day0 - dt.timedelta(days=100))
        kid = Contact.objects.create(first_name="Петя", category="child")
        Pass.objects.create(contact=kid, payer=olga, passed_at=moscow(day0, 9))  # she brought him: active
        Contact.objects.create(first_name="Дубль", merged_into=anna)
        assert lifecycle_daily() == 5
    assert stages() == {"Анна": "new", "Борис": "lost", "Вера": "lapsing", "Ольга": "new", "Петя": "new"}
    returned.refresh_from_db()
    assert (returned.size, returned.counted_on) == (0, day0)
    assert ClientLifecycle.objects.get(contact=boris).last_activity_at == moscow(day0 - dt.timedelta(days=40))

    with clock(day0, 23):  # the same day again: nothing changes, nothing is logged twice
        assert lifecycle_daily() == 0
    assert LifecycleChange.objects.count() == 5

    day1 = day0 + dt.timedelta(days=1)
    with clock(day1):
        Pass.objects.create(contact=boris, passed_at=moscow(day1, 11))
        assert lifecycle_daily() == 1
    row = ClientLifecycle.objects.get(contact=boris)
    assert (row.stage, row.since, row.computed_on, row.last_activity_at) == ("returned", day1, day1, moscow(day1, 11))
    returned.refresh_from_db()
    assert (returned.size, returned.counted_on) == (1, day1)

    day7 = day0 + dt.timedelta(days=7)
    with clock(day7):
        assert lifecycle_daily() == 3  # Анна, Ольга and Петя are no longer new
    assert stages() == {"Анна": "active", "Борис": "returned", "Вера": "lapsing", "Ольга": "active",
                        "Петя": "active"}

    day11 = day1 + dt.timedelta(days=10)
    with clock(day11):
        assert lifecycle_daily() == 2  # Борис is active again, Вера (joined 31 days ago, never came) lost
        assert lifecycle_daily() == 0
    assert history(boris) == [("", "lost", day0), ("lost", "returned", day1), ("returned", "active", day11)]
    assert history(vera) == [("", "lapsing", day0), ("lapsing", "lost", day11)]
    returned.refresh_from_db()
    assert (returned.size, returned.counted_on) == (0, day11)
    assert not ClientLifecycle.objects.filter(contact__first_name="Дубль").exists()
    assert set(ClientLifecycle.objects.values_list("computed_on", flat=True)) == {day11}


@pytest.mark.django_db
def test_today_is_the_moscow_date():
    """At 01:30 in Moscow it is still the previous day in UTC: the stage date is Moscow's."""
    moment = dt.datetime(2026, 3, 2, 1, 30, tzinfo=MSK)
    with mock.patch("django.utils.timezone.now", return_value=moment.astimezone(dt.UTC)):
        Contact.objects.create(first_name="Анна")
        lifecycle_daily()
    assert ClientLifecycle.objects.get().computed_on == dt.date(2026, 3, 2)


@pytest.mark.django_db
def test_the_policy_row_is_created_with_defaults_when_missing():
    assert not LifecyclePolicy.objects.exists()
    policy = lifecycle_policy()
    thresholds = (policy.new_days, policy.lapsing_after_days, policy.lost_after_days, policy.returned_days)
    assert thresholds == (30, 60, 180, 30)
    assert lifecycle_policy().pk == policy.pk and LifecyclePolicy.objects.count() == 1


def _clients(count: int, day: dt.date) -> None:
    for i in range(count):
        contact = Contact.objects.create(first_name=f"К{i}")
        Purchase.objects.create(contact=contact, purchased_at=moscow(day - dt.timedelta(days=i * 5)))
        Pass.objects.create(contact=contact, payer=contact, passed_at=moscow(day - dt.timedelta(days=i * 3)))


def _daily_queries(day: dt.date) -> tuple[int, int]:
    with clock(day), CaptureQueriesContext(connection) as queries:
        changes = lifecycle_daily()
    return changes, len(queries)


def _scenario(count: int, day: dt.date) -> tuple[int, int, int, int]:
    """Changes and queries of a first run and of a run 40 days later (most change stage)."""
    for model in (Pass, Purchase, LifecycleChange, ClientLifecycle, Contact):
        model.objects.all().delete()
    _clients(count, day)
    first = _daily_queries(day)
    later = _daily_queries(day + dt.timedelta(days=40))
    return first[0], later[0], first[1], later[1]


@pytest.mark.django_db
def test_queries_do_not_grow_with_contacts():
    day = dt.date(2026, 3, 1)
    Segment.objects.create(name="Потерянные", rules={"lifecycle": "lost"})
    lifecycle_policy()
    small, large = _scenario(10, day), _scenario(60, day)
    assert small[0] == 10 and large[0] == 60 and small[1] > 0 and large[1] > 10
    assert small[2:] == large[2:]


@pytest.mark.django_db
def test_chunks_cover_every_contact_and_skip_merged_ones(monkeypatch):
    monkeypatch.setattr(lifecycle, "CHUNK", 7)
    day = dt.date(2026, 3, 1)
    with clock(day):
        contacts = [Contact.objects.create(first_name=f"К{i}") for i in range(20)]
        for contact in contacts[3::5]:
            Contact.objects.filter(pk=contact.pk).update(merged_into=contacts[0])
        Purchase.objects.create(contact=contacts[19], purchased_at=moscow(day - dt.timedelta(days=100)))
        assert lifecycle_daily() == 16
    merged = {c.pk for c in contacts[3::5]}
    assert set(ClientLifecycle.objects.values_list("contact_id", flat=True)) == {c.pk for c in contacts} - merged
    assert ClientLifecycle.objects.get(contact=contacts[19]).stage == "lapsing"


@pytest.mark.django_db
def test_the_celery_task_runs_the_job():
    from hub.tasks import lifecycle_daily_task

    Contact.objects.create(first_name="Анна")
    assert lifecycle_daily_task.delay().get() == 1
    assert ClientLifecycle.objects.get().stage == "new"
