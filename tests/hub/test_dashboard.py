"""The operators' dashboard on the admin index: exact numbers per connection, why a row is
red, events per hour in the site's time zone, links that list exactly the counted rows,
rate-limit headroom from the real limiter, who sees it, and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from hub.dashboard import THRESHOLDS, ConnectionRow, Thresholds, dashboard, rate_window
from hub.models import Connection, Contact, Inbox, Outbox
from hub.sync import registry
from hub.templatetags.hub_dashboard import ago

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2024, 5, 10, 12, 30, tzinfo=dt.UTC)  # 15:30 in Moscow
S = Outbox.Status
I = Inbox.Status  # noqa: E741 - short like S


def make(name: str, system: str = "site", **fields: object) -> Connection:
    return Connection.objects.create(name=name, system=system, **fields)


def outbox(connection: Connection, status: str, *, created: dt.datetime, n: int = 1, **fields: object) -> list[int]:
    fields.setdefault("next_attempt_at", created)
    return [Outbox.objects.create(connection=connection, action="contact.upsert", status=status, created_at=created,
                                  target_kind="contact", target_id=i, **fields).pk for i in range(n)]


_keys = iter(range(10**6))


def inbox(connection: Connection | None, status: str, *, received: dt.datetime, n: int = 1) -> list[int]:
    return [Inbox.objects.create(connection=connection, source=f"test:{connection.pk if connection else 0}",
                                 event_key=f"e{next(_keys)}", status=status, received_at=received).pk
            for _ in range(n)]


def row_of(board, connection: Connection) -> ConnectionRow:
    return next(r for r in board.rows if r.connection.pk == connection.pk)


def problems(connection: Connection, now: dt.datetime = NOW, thresholds: Thresholds = THRESHOLDS) -> list[str]:
    return row_of(dashboard(now=now, thresholds=thresholds), connection).problems


# --- numbers ----------------------------------------------------------------------------------


def test_counts_per_connection_are_exact_and_split_by_the_24_hour_window():
    now = timezone.now()
    hour_ago, two_days_ago = now - dt.timedelta(hours=1), now - dt.timedelta(days=2)
    site, other = make("Сайт"), make("Другой")
    outbox(site, S.PENDING, created=hour_ago, n=2)
    outbox(site, S.SENDING, created=hour_ago, locked_until=now + dt.timedelta(minutes=5))
    outbox(site, S.FAILED, created=hour_ago, n=2)
    outbox(site, S.FAILED, created=two_days_ago)
    outbox(site, S.DEAD, created=hour_ago, n=2)
    outbox(site, S.DEAD, created=two_days_ago, n=4)
    outbox(site, S.SENT, created=hour_ago, sent_at=hour_ago, n=5)
    outbox(site, S.SKIPPED, created=hour_ago)
    outbox(other, S.DEAD, created=hour_ago)
    inbox(site, I.RECEIVED, received=now - dt.timedelta(minutes=1), n=2)
    inbox(site, I.FAILED, received=hour_ago)
    inbox(site, I.FAILED, received=two_days_ago, n=2)
    inbox(site, I.REJECTED, received=hour_ago, n=3)
    inbox(site, I.REJECTED, received=two_days_ago)
    inbox(site, I.PROCESSED, received=hour_ago, n=4)
    inbox(other, I.PROCESSED, received=hour_ago)

    board = dashboard(now=now)
    row = row_of(board, site)
    assert (row.queued.count, row.retrying.count, row.inbox_waiting.count) == (3, 3, 2)
    assert (row.failed_recent.count, row.dead_recent.count, row.dead_older.count) == (2, 2, 4)
    assert (row.inbox_failed_recent.count, row.inbox_failed_older.count, row.inbox_rejected_recent.count) == (1, 2, 3)
    assert (row.events_in, row.events_out) == (2 + 1 + 3 + 4, 5)
    mine = row_of(board, other)
    assert (mine.queued.count, mine.dead_recent.count, mine.dead_older.count, mine.events_in) == (0, 1, 0, 1)
    assert (board.events_in, board.events_out) == (11, 5)


def test_contacts_header_counts_today_in_the_site_time_zone():
    now = dt.datetime(2024, 5, 10, 12, 30, tzinfo=dt.UTC)
    before_midnight = Contact.objects.create(first_name="Вчера")
    after_midnight = Contact.objects.create(first_name="Сегодня")
    merged = Contact.objects.create(first_name="Дубль", merged_into=after_midnight)
    # Moscow midnight of 10 May is 21:00 UTC on 9 May.
    Contact.objects.filter(pk=before_midnight.pk).update(created_at=dt.datetime(2024, 5, 9, 20, 59, tzinfo=dt.UTC))
    Contact.objects.filter(pk__in=[after_midnight.pk, merged.pk]).update(
        created_at=dt.datetime(2024, 5, 9, 21, 0, tzinfo=dt.UTC))
    board = dashboard(now=now)
    assert (board.contacts_total, board.contacts_today) == (2, 1)


# --- red, and why -------------------------------------------------------------------------------


def test_a_quiet_connection_is_not_red():
    assert problems(make("Сайт")) == []


def test_disabled_is_red():
    on, off = make("Вкл"), make("Выкл", enabled=False)
    assert not any("выключено" in p for p in problems(on))
    assert any("выключено" in p for p in problems(off))


def test_an_error_newer_than_the_last_success_is_red():
    earlier, later = NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=1)
    failing = make("Сбой", last_push_at=earlier, last_error="HTTP 500", last_error_at=later)
    recovered = make("Прошло", last_push_at=later, last_error="HTTP 500", last_error_at=earlier)
    never = make("Никогда", last_error="HTTP 401", last_error_at=earlier)
    assert "Последняя ошибка новее последнего успешного обмена" in problems(failing)
    assert problems(recovered) == []
    assert "Последняя ошибка новее последнего успешного обмена" in problems(never)
    assert row_of(dashboard(now=NOW), recovered).last_error == "HTTP 500"


def test_dead_letters_and_failed_events_of_the_last_24_hours_are_red_older_ones_are_not():
    fresh, old = make("Свежие"), make("Старые")
    outbox(fresh, S.DEAD, created=NOW - dt.timedelta(hours=23))
    inbox(fresh, I.FAILED, received=NOW - dt.timedelta(hours=23))
    outbox(old, S.DEAD, created=NOW - dt.timedelta(hours=25))
    inbox(old, I.FAILED, received=NOW - dt.timedelta(hours=25))
    inbox(old, I.REJECTED, received=NOW - dt.timedelta(hours=1))  # bad input from outside: kept, not red
    reasons = problems(fresh)
    assert any(p.startswith("Не доставлено окончательно за 24 ч: 1") for p in reasons)
    assert any(p.startswith("Входящих событий с ошибкой обработки за 24 ч: 1") for p in reasons)
    assert problems(old) == []


@pytest.mark.parametrize(("poll", "failures", "idle", "red"), [
    (60, 0, 179, False), (60, 0, 181, True),  # 3 × 60 s
    (60, 2, 700, False), (60, 2, 730, True),  # backoff: 3 × 240 s
    (10, 0, 119, False), (10, 0, 121, True),  # never less than two minutes
])
def test_a_polled_connection_not_pulled_for_three_waits_is_red(poll, failures, idle, red):
    lime = make("Лайм", system="lime", poll_interval=poll, pull_failures=failures,
                last_pull_at=NOW - dt.timedelta(seconds=idle))
    assert any(p.startswith("Опрос запаздывает") for p in problems(lime)) is red


def test_pulls_that_keep_failing_are_red_even_while_pushes_succeed():
    lime = make("Лайм", system="lime", poll_interval=60, pull_failures=8, last_pull_at=NOW - dt.timedelta(hours=3),
                last_push_at=NOW - dt.timedelta(minutes=1), last_error="HTTP 503",
                last_error_at=NOW - dt.timedelta(minutes=5))
    healthy = make("Лайм 2", system="lime", poll_interval=60, last_pull_at=NOW - dt.timedelta(seconds=30))
    assert "Забор данных не удаётся 8 раз(а) подряд" in problems(lime)
    assert problems(healthy) == []


def test_a_failed_pull_counts_as_an_attempt_and_a_pushed_only_system_is_never_late():
    lime = make("Лайм", system="lime", poll_interval=60, pull_failures=1,
                last_pull_at=NOW - dt.timedelta(hours=1), last_error="down",
                last_error_at=NOW - dt.timedelta(seconds=30))
    site = make("Сайт")
    assert not any(p.startswith("Опрос запаздывает") for p in problems(lime))
    assert problems(site) == []


@pytest.mark.parametrize(("minutes", "red"), [(14, False), (16, True)])
def test_a_queue_waiting_too_long_is_red(minutes, red):
    due = make("Исходящие")
    leased = make("Аренда")
    waiting = make("Входящие")
    outbox(due, S.PENDING, created=NOW - dt.timedelta(hours=1), next_attempt_at=NOW - dt.timedelta(minutes=minutes))
    outbox(due, S.FAILED, created=NOW - dt.timedelta(hours=1), next_attempt_at=NOW + dt.timedelta(hours=1))
    outbox(leased, S.SENDING, created=NOW - dt.timedelta(hours=1),
           locked_until=NOW - dt.timedelta(minutes=minutes))
    inbox(waiting, I.RECEIVED, received=NOW - dt.timedelta(minutes=minutes))
    assert any(p.startswith("Исходящие ждут отправки") for p in problems(due)) is red
    assert any(p.startswith("Исходящие ждут отправки") for p in problems(leased)) is red
    assert any(p.startswith("Входящие события ждут обработки") for p in problems(waiting)) is red


def test_thresholds_come_from_one_place():
    late = make("Исходящие")
    outbox(late, S.PENDING, created=NOW, next_attempt_at=NOW - dt.timedelta(minutes=16))
    assert problems(late)
    assert problems(late, thresholds=Thresholds(queue_stale=dt.timedelta(hours=1))) == []


def test_a_system_without_a_connector_is_red():
    assert any("не установлен" in p for p in problems(make("Старое", system="gone")))


# --- chart -------------------------------------------------------------------------------------


def test_events_per_hour_in_moscow_time_with_the_midnight_edge():
    site = make("Сайт")
    inbox(site, I.PROCESSED, received=dt.datetime(2024, 5, 9, 12, 59, 59, tzinfo=dt.UTC))  # 15:59:59, before
    inbox(site, I.PROCESSED, received=dt.datetime(2024, 5, 9, 13, 0, tzinfo=dt.UTC))  # 16:00 MSK: first hour
    inbox(site, I.FAILED, received=dt.datetime(2024, 5, 9, 20, 59, 59, tzinfo=dt.UTC))  # 23:59:59 MSK
    inbox(None, I.REJECTED, received=dt.datetime(2024, 5, 9, 21, 0, tzinfo=dt.UTC), n=2)  # 00:00 MSK, 10 May
    outbox(site, S.SENT, created=NOW, sent_at=dt.datetime(2024, 5, 9, 21, 30, tzinfo=dt.UTC), n=3)
    outbox(site, S.SENT, created=NOW, sent_at=dt.datetime(2024, 5, 10, 12, 29, tzinfo=dt.UTC))  # 15:29, this hour
    outbox(site, S.DEAD, created=NOW, sent_at=dt.datetime(2024, 5, 10, 12, 0, tzinfo=dt.UTC))  # not sent

    board = dashboard(now=NOW)
    hours = {f"{h:%d.%m %H:%M}": (n_in, n_out) for h, n_in, n_out in board.hours}
    assert len(board.hours) == 24
    assert f"{board.hours[0][0]:%d.%m %H:%M %z}" == "09.05 16:00 +0300"
    assert f"{board.hours[-1][0]:%d.%m %H:%M}" == "10.05 15:00"
    assert hours["09.05 16:00"] == (1, 0)
    assert hours["09.05 23:00"] == (1, 0)
    assert hours["10.05 00:00"] == (2, 3)
    assert hours["10.05 15:00"] == (0, 1)
    assert sum(n for _, n, _ in board.hours) == 4 and sum(n for _, _, n in board.hours) == 4
    groups = {g.label: g for g in board.chart.groups}
    assert groups["00:00"].sublabel == "10.05" and board.chart.groups[0].sublabel == "09.05"
    assert [b.title for b in groups["00:00"].bars] == ["10.05 00:00–01:00: получено 2",
                                                       "10.05 00:00–01:00: отправлено 3"]
    assert row_of(board, site).events_in == 2  # the connection-less events count only overall


def test_hours_follow_settings_time_zone_even_at_half_hour_offsets(settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30: local hours start at :30 UTC
    site = make("Сайт")
    inbox(site, I.PROCESSED, received=dt.datetime(2024, 5, 10, 10, 29, tzinfo=dt.UTC))  # 15:59 IST
    inbox(site, I.PROCESSED, received=dt.datetime(2024, 5, 10, 10, 31, tzinfo=dt.UTC), n=2)  # 16:01 IST
    hours = {f"{h:%H:%M}": n_in for h, n_in, _ in dashboard(now=NOW).hours}  # NOW is 18:00 IST
    assert (hours["15:00"], hours["16:00"], hours["18:00"]) == (1, 2, 0)


# --- links to the admin lists (Replay lives there) ---------------------------------------------


def listed(client: Client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {obj.pk for obj in response.context["cl"].result_list}


def test_every_link_lists_exactly_the_counted_rows_and_replay_works_there(admin_client):
    now = timezone.now()
    hour_ago, two_days_ago = now - dt.timedelta(hours=1), now - dt.timedelta(days=2)
    site, other = make("Сайт"), make("Другой")
    expected = {
        "queued": outbox(site, S.PENDING, created=hour_ago, n=2)
        + outbox(site, S.SENDING, created=hour_ago, locked_until=now + dt.timedelta(minutes=5)),
        "retrying": outbox(site, S.FAILED, created=hour_ago, n=2) + outbox(site, S.FAILED, created=two_days_ago),
        "dead_recent": outbox(site, S.DEAD, created=hour_ago, n=2),
        "dead_older": outbox(site, S.DEAD, created=two_days_ago, n=3),
        "inbox_waiting": inbox(site, I.RECEIVED, received=now - dt.timedelta(minutes=1)),
        "inbox_failed_recent": inbox(site, I.FAILED, received=hour_ago, n=2),
        "inbox_failed_older": inbox(site, I.FAILED, received=two_days_ago),
        "inbox_rejected_recent": inbox(site, I.REJECTED, received=hour_ago),
    }
    expected["failed_recent"] = expected["retrying"][:2]
    outbox(other, S.DEAD, created=hour_ago)  # another connection's rows never show up
    inbox(other, I.FAILED, received=hour_ago)
    outbox(site, S.SENT, created=hour_ago, sent_at=hour_ago)
    inbox(site, I.REJECTED, received=two_days_ago)

    row = row_of(dashboard(), site)
    for name, pks in expected.items():
        tally = getattr(row, name)
        assert tally.count == len(pks), name
        assert listed(admin_client, tally.url) == set(pks), name

    page = admin_client.get(reverse("admin:index")).content.decode()
    link = re.search(rf'<a id="dash-dead-{site.pk}" href="([^"]+)">2</a>', page)
    assert link, "the dead letters link is on the page"
    url = unescape(link.group(1))
    assert listed(admin_client, url) == set(expected["dead_recent"])
    response = admin_client.post(url, {"action": "replay", "_selected_action": expected["dead_recent"]}, follow=True)
    assert response.status_code == 200
    assert set(Outbox.objects.filter(pk__in=expected["dead_recent"]).values_list("status", flat=True)) == {S.PENDING}
    assert Outbox.objects.filter(pk__in=expected["dead_older"], status=S.DEAD).count() == 3


# --- rate-limit headroom -------------------------------------------------------------------------


def test_headroom_is_read_from_the_limiter_the_client_waits_on(settings):
    from connectors.lime.client import LimeClient  # the test, not the hub, knows the connector

    lime = make("Лайм", system="lime", base_url="http://127.0.0.1:9", settings={"rate_limit": "7/minute"})
    limiter = LimeClient(lime).rate_limiter
    limiter.limiter.clear(limiter.item, "hub", limiter.key)  # Redis outlives test databases
    assert type(limiter.limiter.storage).__name__ == ("RedisStorage" if settings.REDIS_URL else "MemoryStorage")
    assert [limiter.try_acquire() for _ in range(2)] == [True, True]
    headroom = row_of(dashboard(), lime).headroom
    assert (headroom.free, headroom.limit, str(headroom)) == (5, 7, "5 из 7 в минуту")
    limiter.limiter.clear(limiter.item, "hub", limiter.key)


def test_no_headroom_for_systems_we_do_not_call_nor_for_an_unreadable_rate():
    tilda = make("Тильда", system="tilda")
    broken = make("Сломано", system="site", settings={"rate_limit": "often"})
    board = dashboard()
    assert row_of(board, tilda).headroom is None and row_of(board, broken).headroom is None


def test_rate_window_names_the_window_in_russian():
    from limits import parse

    assert [rate_window(parse(r)) for r in ("7/second", "3/minute", "500/5 seconds", "100/day")] == [
        "в секунду", "в минуту", "за 5 с", "в сутки"]


def test_ago_says_how_long_ago_in_russian():
    assert [ago(NOW - dt.timedelta(seconds=s), NOW) for s in (5, 180, 7200, 3 * 86400)] == [
        "только что", "3 мин назад", "2 ч назад", "3 дн назад"]
    assert ago(None, NOW) == "никогда"


# --- the page ---------------------------------------------------------------------------------


def staff(username: str, *perms: str) -> Client:
    user = get_user_model().objects.create_user(username, password="pw", is_staff=True)
    for perm in perms:
        user.user_permissions.add(Permission.objects.get(codename=perm, content_type__app_label="hub"))
    client = Client()
    client.force_login(user)
    return client


def test_only_users_who_may_view_connections_see_the_dashboard():
    site = make("Сайт", enabled=False)
    plain = staff("clerk", "view_contact").get(reverse("admin:index"))
    assert plain.status_code == 200
    page = plain.content.decode()
    assert 'id="dashboard"' not in page and "Сайт" not in page
    assert reverse("admin:hub_contact_changelist") in page  # the usual app list stays

    page = staff("operator", "view_connection").get(reverse("admin:index")).content.decode()
    assert 'id="dashboard"' in page
    assert f'id="dash-connection-{site.pk}" class="dash-row-bad"' in page
    assert "Подключение выключено" in page  # the reason, not only the colour
    assert 'id="dash-events-chart"' in page
    assert f'<span id="dash-dead-{site.pk}">0</span>' in page  # nothing to link to
    assert 'id="content-main"' in page  # the app list is still below


def test_wizard_and_analytics_links_appear_once_their_pages_exist(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    for name, element in (("connection_wizard", "dash-wizard"), ("analytics_index", "dash-analytics")):
        try:
            url = reverse(name)
        except NoReverseMatch:
            assert f'id="{element}"' not in page
        else:
            assert f'id="{element}" class="button" href="{url}"' in page


def _fill(first: int, n: int) -> None:
    now = timezone.now()
    for i in range(first, first + n):
        system = ("lime", "site", "webhook", "tilda", "amocrm")[i % 5]
        connection = make(f"c{i}", system=system, last_pull_at=now, last_error="x", last_error_at=now)
        for status in (S.PENDING, S.FAILED, S.DEAD, S.SENT):
            outbox(connection, status, created=now - dt.timedelta(hours=i), sent_at=now, n=3)
        for status in (I.RECEIVED, I.FAILED, I.REJECTED, I.PROCESSED):
            inbox(connection, status, received=now - dt.timedelta(hours=i), n=3)
        Contact.objects.create(first_name=f"К{i}")


def _queries(client: Client) -> tuple[int, int]:
    with CaptureQueriesContext(db_connection) as selector:
        dashboard()
    with CaptureQueriesContext(db_connection) as page:
        assert client.get(reverse("admin:index")).status_code == 200
    return len(selector), len(page)


def test_queries_do_not_grow_with_connections_or_rows(admin_client):
    _fill(0, 1)
    one = _queries(admin_client)
    _fill(1, 4)
    assert Connection.objects.count() == 5
    assert _queries(admin_client) == one
    assert one[0] <= 6


def test_every_registered_system_renders(admin_client):
    for system, _title in registry.systems():
        make(f"conn-{system}", system=system)
    page = admin_client.get(reverse("admin:index"))
    assert page.status_code == 200
    assert page.content.decode().count('id="dash-connection-') == len(registry.systems())
