"""The monthly report of events: exact sums per date, template and month, the month taken in
the venue's time zone, sales without a known event apart, exports that read back to the same
numbers, and the admin page (table, chart, downloads, permissions, bad input)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from openpyxl import load_workbook

from events.chart import chart_bars
from events.exports import report_csv, report_xlsx
from events.models import EventDate, EventSetup, EventTemplate, TicketSale
from events.report import NO_EVENT, NO_TEMPLATE, event_report
from hub.models import Connection

pytestmark = pytest.mark.django_db

MSK = ZoneInfo("Europe/Moscow")
DECEMBER = dt.date(2026, 12, 1)
URL = "/admin/events/report/"


def msk(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MSK)


def make_setup(name: str = "amo") -> EventSetup:
    crm = Connection.objects.create(system="amocrm", name=f"CRM {name}")
    site = Connection.objects.create(system="site", name=f"Сайт {name}")
    return EventSetup.objects.create(crm=crm, site=site, template_pipeline_id="1", template_stage_id="2",
                                     events_pipeline_id="3")


def make_template(setup: EventSetup, title: str) -> EventTemplate:
    return EventTemplate.objects.create(setup=setup, crm_deal_id=f"t-{title}", title=title)


def make_date(setup: EventSetup, template: EventTemplate | None, title: str, starts_at: dt.datetime) -> EventDate:
    deal = f"d-{title}-{int(starts_at.timestamp())}"
    return EventDate.objects.create(setup=setup, template=template, crm_deal_id=deal, title=title, starts_at=starts_at)


def sell(setup: EventSetup, event: EventDate | None, tickets: int, amount: str, *, refunded: bool = False,
         sold_at: dt.datetime | None = None) -> TicketSale:
    sold_at = sold_at or msk(2026, 11, 20, 12, 0)
    return TicketSale.objects.create(
        site=setup.site, order_id=f"o{TicketSale.objects.count() + 1}", site_event_id="site-1", event=event,
        tickets=tickets, amount=Decimal(amount), sold_at=sold_at,
        status=TicketSale.Status.REFUNDED if refunded else TicketSale.Status.PAID,
        refunded_at=sold_at + dt.timedelta(days=1) if refunded else None)


def sums(item) -> tuple:
    return (item.tickets, item.revenue, item.refunded_tickets, item.refunds, item.net, item.orders)


@pytest.fixture
def setup() -> EventSetup:
    return make_setup()


@pytest.fixture
def december(setup: EventSetup) -> EventSetup:
    """Two templates and an event without one, held in December (Moscow), plus noise around it."""
    concerts, lectures = make_template(setup, "Концерты"), make_template(setup, "Лекции")
    jazz = make_date(setup, concerts, "Джаз", msk(2026, 12, 5, 19, 0))
    sell(setup, jazz, 2, "3000.00", sold_at=msk(2026, 10, 1, 9, 0))  # sold long before: still the event's
    sell(setup, jazz, 1, "1500.00", refunded=True)
    sell(setup, jazz, 3, "4500.50")
    rock = make_date(setup, concerts, "Рок", msk(2026, 12, 1, 0, 30))  # 30.11 21:30 UTC
    sell(setup, rock, 4, "2000.00")
    talk = make_date(setup, lectures, "Лекция о космосе", msk(2026, 12, 20, 18, 0))
    sell(setup, talk, 1, "700.00", refunded=True)
    workshop = make_date(setup, None, "Мастер-класс", msk(2026, 12, 10, 12, 0))
    sell(setup, workshop, 5, "1250.25")
    make_date(setup, lectures, "Без продаж", msk(2026, 12, 25, 18, 0))
    new_year = make_date(setup, concerts, "Новогодний", msk(2027, 1, 1, 1, 0))  # 31.12 22:00 UTC: January
    sell(setup, new_year, 10, "9999.99")
    sell(setup, None, 2, "1000.00", sold_at=msk(2026, 12, 15, 10, 0))
    sell(setup, None, 1, "300.00", refunded=True, sold_at=msk(2026, 12, 1, 1, 0))  # 30.11 22:00 UTC
    sell(setup, None, 6, "6000.00", sold_at=msk(2027, 1, 3, 10, 0))  # another month
    return setup


def test_sums_per_event_per_template_and_month_are_exact(december):
    report = event_report(DECEMBER, "Europe/Moscow")
    assert [t.title for t in report.templates] == ["Концерты", "Лекции", NO_TEMPLATE]
    concerts, lectures, none = report.templates
    assert [r.title for r in concerts.rows] == ["Рок", "Джаз"]  # by start
    rock, jazz = concerts.rows
    assert sums(jazz) == (6, Decimal("9000.50"), 1, Decimal("1500.00"), Decimal("7500.50"), 3)
    assert sums(rock) == (4, Decimal("2000.00"), 0, Decimal("0.00"), Decimal("2000.00"), 1)
    assert sums(concerts) == (10, Decimal("11000.50"), 1, Decimal("1500.00"), Decimal("9500.50"), 4)
    assert [r.title for r in lectures.rows] == ["Лекция о космосе", "Без продаж"]
    assert sums(lectures) == (1, Decimal("700.00"), 1, Decimal("700.00"), Decimal("0.00"), 1)
    assert sums(lectures.rows[1]) == (0, Decimal("0.00"), 0, Decimal("0.00"), Decimal("0.00"), 0)
    assert none.rows[0].template_title == NO_TEMPLATE
    assert sums(none) == (5, Decimal("1250.25"), 0, Decimal("0.00"), Decimal("1250.25"), 1)
    assert report.unlinked.title == NO_EVENT
    assert sums(report.unlinked) == (3, Decimal("1300.00"), 1, Decimal("300.00"), Decimal("1000.00"), 2)
    assert sums(report.total) == (19, Decimal("14250.75"), 3, Decimal("2500.00"), Decimal("11750.75"), 8)
    assert jazz.starts_at == msk(2026, 12, 5, 19, 0) and jazz.starts_at.utcoffset() == dt.timedelta(hours=3)
    assert str(report.total.revenue) == "14250.75"  # two places


def test_the_month_is_the_month_where_the_event_is_held_in_that_time_zone(setup):
    new_york = ZoneInfo("America/New_York")
    eve = make_date(setup, None, "Канун", dt.datetime(2026, 12, 31, 23, 30, tzinfo=new_york))  # 01.01 04:30 UTC
    sell(setup, eve, 2, "100.00")
    dawn = make_date(setup, None, "Рассвет", msk(2026, 12, 1, 0, 30))  # 30.11 21:30 UTC
    sell(setup, dawn, 1, "50.00")

    def titles(month: dt.date, tz: str) -> list[str]:
        return [row.title for row in event_report(month, tz).rows]

    assert titles(DECEMBER, "America/New_York") == ["Канун"]  # although it is January in UTC
    assert titles(dt.date(2027, 1, 1), "UTC") == ["Канун"]
    assert titles(DECEMBER, "Europe/Moscow") == ["Рассвет"]  # although it is November in UTC (and New York)
    assert titles(dt.date(2026, 11, 1), "UTC") == ["Рассвет"]
    assert titles(dt.date(2026, 11, 1), "America/New_York") == ["Рассвет"]
    assert event_report(DECEMBER, "America/New_York").rows[0].starts_at == dt.datetime(
        2026, 12, 31, 23, 30, tzinfo=new_york)


def test_another_month_is_empty_and_sales_without_an_event_stay_in_their_month(december):
    empty = event_report(dt.date(2026, 2, 1))
    assert empty.templates == [] and empty.is_empty and chart_bars(empty) is None
    assert sums(empty.total) == (0, Decimal("0.00"), 0, Decimal("0.00"), Decimal("0.00"), 0)
    january = event_report(dt.date(2027, 1, 14))
    assert january.month == dt.date(2027, 1, 1)
    assert [r.title for r in january.rows] == ["Новогодний"]
    assert sums(january.unlinked) == (6, Decimal("6000.00"), 0, Decimal("0.00"), Decimal("6000.00"), 1)


def test_a_setup_limits_the_report_to_its_events_and_its_site(december):
    other = make_setup("other")
    party = make_date(other, make_template(other, "Вечеринки"), "Вечеринка", msk(2026, 12, 12, 22, 0))
    sell(other, party, 3, "900.00")
    sell(other, None, 1, "100.00", sold_at=msk(2026, 12, 12, 10, 0))
    everything = event_report(DECEMBER)
    assert [t.title for t in everything.templates] == ["Вечеринки", "Концерты", "Лекции", NO_TEMPLATE]
    assert everything.unlinked.orders == 3
    only = event_report(DECEMBER, setup=december)
    assert [t.title for t in only.templates] == ["Концерты", "Лекции", NO_TEMPLATE]
    assert only.unlinked.orders == 2 and only.total.revenue == Decimal("14250.75")
    theirs = event_report(DECEMBER, setup=other)
    assert sums(theirs.total) == (4, Decimal("1000.00"), 0, Decimal("0.00"), Decimal("1000.00"), 2)


def test_the_query_count_does_not_grow_with_the_events(setup, django_assert_max_num_queries):
    templates = [make_template(setup, f"Шаблон {i}") for i in range(5)]
    for day in range(1, 31):
        event = make_date(setup, templates[day % 5], f"Событие {day}", msk(2026, 12, day, 19, 0))
        sell(setup, event, 2, "200.00")
        sell(setup, event, 1, "100.00", refunded=True)
    with django_assert_max_num_queries(2):
        report = event_report(DECEMBER)
    assert len(report.rows) == 30 and report.total.revenue == Decimal("9000.00")
    assert report.total.refunds == Decimal("3000.00")


def test_csv_reads_back_to_the_same_numbers(december):
    report = event_report(DECEMBER)
    body = report_csv(report)
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Шаблон", "Мероприятие", "Начало", "Продано билетов", "Выручка", "Возвращено билетов",
                       "Возвраты", "Нетто", "Заказов"]
    by_title = {(row[0], row[1]): row for row in rows[1:]}
    assert by_title[("Концерты", "Джаз")][2:] == ["05.12.2026 19:00", "6", "9000.50", "1", "1500.00", "7500.50", "3"]
    assert by_title[("Концерты", "Итого по шаблону")][3:] == ["10", "11000.50", "1", "1500.00", "9500.50", "4"]
    assert by_title[("—", NO_EVENT)][3:] == ["3", "1300.00", "1", "300.00", "1000.00", "2"]
    assert rows[-1][0] == "Итого за месяц"
    assert rows[-1][3:] == ["19", "14250.75", "3", "2500.00", "11750.75", "8"]
    assert len(rows) == 1 + 3 + 5 + 1 + 1  # header, template groups, events, unlinked, total


def test_xlsx_opens_and_its_totals_equal_the_report(december):
    report = event_report(DECEMBER)
    sheet = load_workbook(io.BytesIO(report_xlsx(report))).active
    assert sheet.freeze_panes == "A2" and sheet["A1"].value == "Шаблон" and sheet["A1"].font.b
    rows = {(row[0].value, row[1].value): row for row in sheet.iter_rows(min_row=2) if row[0].value}
    total = rows[("Итого за месяц", None)]
    assert [Decimal(str(c.value)) for c in total[3:9]] == [
        Decimal(19), Decimal("14250.75"), Decimal(3), Decimal("2500.00"), Decimal("11750.75"), Decimal(8)]
    assert total[4].number_format == "#,##0.00" and total[4].font.b
    group = rows[("Концерты", "Итого по шаблону")]
    assert group[0].font.b and Decimal(str(group[4].value)) == Decimal("11000.50")
    jazz = rows[("Концерты", "Джаз")]
    assert jazz[2].value == dt.datetime(2026, 12, 5, 19, 0) and jazz[2].number_format == "dd.mm.yyyy hh:mm"
    assert not jazz[0].font.b and Decimal(str(jazz[6].value)) == Decimal("1500.00")
    assert Decimal(str(rows[("—", NO_EVENT)][7].value)) == Decimal("1000.00")
    assert sheet.column_dimensions["B"].width == 40


def test_titles_from_the_crm_never_become_formulas(setup):
    sneaky = make_template(setup, '=HYPERLINK("http://evil","x")')
    sell(setup, make_date(setup, sneaky, "-2+3", msk(2026, 12, 3, 10, 0)), 1, "10.00")
    report = event_report(DECEMBER)
    rows = list(csv.reader(io.StringIO(report_csv(report).decode("utf-8-sig")), delimiter=";"))
    assert rows[1][0].startswith("'=") and rows[2][1] == "'-2+3"
    sheet = load_workbook(io.BytesIO(report_xlsx(report))).active
    assert sheet["A2"].data_type == "s" and sheet["A2"].value == '=HYPERLINK("http://evil","x")'
    assert sheet["B3"].data_type == "s" and sheet["B3"].value == "-2+3"


def test_the_chart_has_a_bar_group_per_event_scaled_to_the_largest_amount(december):
    chart = chart_bars(event_report(DECEMBER), width=960, height=320)
    assert [g.label for g in chart.groups] == ["01.12 00:30", "05.12 19:00", "10.12 12:00", "20.12 18:00",
                                                    "25.12 18:00"]
    jazz = chart.groups[1]
    revenue, refunds = jazz.bars
    assert revenue.kind == "revenue" and refunds.kind == "refunds"
    assert chart.ticks[-1].label == "10\u00a0000"  # 9000.50 rounds up to a 2 500 step
    plot = chart.baseline - chart.ticks[-1].y
    assert revenue.height == pytest.approx(9000.50 / 10000 * plot, abs=0.01)
    assert revenue.y + revenue.height == pytest.approx(chart.baseline)
    assert refunds.height == pytest.approx(1500 / 10000 * plot, abs=0.01)
    assert "Джаз" in revenue.title and "9\u00a0000,50" in revenue.title
    wide = chart_bars(event_report(DECEMBER), width=100)
    assert wide.width >= 5 * 64 and all(g.bars[1].x + g.bars[1].width <= wide.right for g in wide.groups)


def test_the_admin_page_shows_the_chart_first_then_the_table(admin_client, december):
    response = admin_client.get(URL, {"month": "2026-12"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Отчёт по мероприятиям" in page and '<svg class="rep-bars"' in page
    assert page.index('<svg class="rep-bars"') < page.index('<table class="rep"')
    assert "<title>05.12.2026 19:00 Джаз: выручка 9\u00a0000,50 ₽</title>" in page
    assert "Концерты — итого по шаблону" in page and NO_EVENT in page and "Итого за месяц" in page
    assert "?month=2026-11" in page and "?month=2027-01" in page
    assert "?month=2026-12&amp;format=xlsx" in page and "?month=2026-12&amp;format=csv" in page
    chart = page.split('<svg class="rep-bars"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == 10 and chart.count("<title>") == 10
    assert "<script" not in page.split('<div id="content"', 1)[1] and "//" not in chart.replace("http://www.w3.org", "")
    assert "Продано билетов" in page


def test_an_empty_month_says_so(admin_client, december):
    page = admin_client.get(URL, {"month": "2025-03"}).content.decode()
    assert '<svg class="rep-bars"' not in page and "В этом месяце нет мероприятий" in page


def test_the_page_keeps_the_setup_in_its_links(admin_client, december):
    page = admin_client.get(URL, {"month": "2026-12", "setup": december.pk}).content.decode()
    assert f"?month=2026-12&amp;setup={december.pk}&amp;format=xlsx" in page
    assert f'<option value="{december.pk}" selected>' in page
    bad = admin_client.get(URL, {"setup": "nope"})
    assert bad.status_code == 200 and "Такой настройки мероприятий нет" in bad.content.decode()


def test_the_page_uses_the_time_zone_of_the_setups_site(admin_client, setup):
    Connection.objects.filter(pk=setup.site_id).update(time_zone="America/New_York")
    eve = make_date(setup, None, "Канун", dt.datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("America/New_York")))
    sell(setup, eve, 1, "100.00")
    page = admin_client.get(URL, {"month": "2026-12", "setup": setup.pk}).content.decode()
    assert "America/New_York" in page and "<td>31.12.2026 23:30</td>" in page
    assert "Канун" not in admin_client.get(URL, {"month": "2026-12"}).content.decode()  # 01.01 07:30 in Moscow


@pytest.mark.parametrize(("kind", "content_type"), [
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("csv", "text/csv; charset=utf-8"),
])
def test_downloads_have_the_right_type_and_name(admin_client, december, kind, content_type):
    response = admin_client.get(URL, {"month": "2026-12", "format": kind})
    assert response.status_code == 200 and response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="events-2026-12.{kind}"'
    if kind == "xlsx":
        assert load_workbook(io.BytesIO(response.content)).active["A1"].value == "Шаблон"
    else:
        assert "14250.75" in response.content.decode("utf-8-sig")


@pytest.mark.parametrize("month", ["garbage", "2026-13", "2026-1", "0000-01", "９９９９-12", "2026-12-01"])
def test_a_bad_month_is_explained_and_the_current_month_shown(admin_client, december, month):
    response = admin_client.get(URL, {"month": month})
    assert response.status_code == 200
    assert "Не понятен месяц" in response.content.decode()


def test_staff_without_the_permission_is_refused(client):
    clerk = User.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_ticketsale", content_type__app_label="events"))
    client.force_login(User.objects.get(pk=clerk.pk))
    assert client.get(URL).status_code == 200


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_the_page_costs_the_same_queries_with_many_events(admin_client, setup, django_assert_max_num_queries):
    template = make_template(setup, "Серия")
    for day in range(1, 29):
        sell(setup, make_date(setup, template, f"Вечер {day}", msk(2026, 12, day, 19, 0)), 1, "100.00")
    with django_assert_max_num_queries(8):
        response = admin_client.get(URL, {"month": "2026-12"})
    assert response.status_code == 200 and response.content.decode().count("<rect") == 56
