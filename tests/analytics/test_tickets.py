"""The tickets page: best sellers by units and revenue (top N and the rest), sales per weekday
and hour in the venue's time zone (23:30 and 00:30 in Moscow are Moscow's hours, a Yekaterinburg
venue's 01:00 is its own), filters by venue, category with subcategories and product kind,
refunds and sales outside the local period left out, the picture before the table, and the
files with the same numbers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from analytics.selectors.sales import ticket_sales
from tests.analytics.conftest import read_csv, read_xlsx, rows_of

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/tickets/"
WEEK = {"date_from": "2026-03-02", "date_to": "2026-03-08"}
FIRST, LAST = dt.date(2026, 3, 2), dt.date(2026, 3, 8)


def test_best_sellers_by_units_with_revenue_and_receipts(admin_client, sales):
    assert reverse("analytics_tickets") == URL
    page = admin_client.get(URL, WEEK)
    assert page.status_code == 200
    assert rows_of(page) == [
        ("", "Детский билет", "4", "2\u00a0000,00", "2"),
        ("", "Взрослый билет", "3", "3\u00a0000,00", "2"),
        ("", "Семейный", "2", "1\u00a0500,00", "1"),
        ("total", "Итого", "9", "6\u00a0500,00", "4"),
    ]
    html = page.content.decode()
    assert html.index('<svg class="rep-bars"') < html.index('<table class="rep"') < html.index('id="rep-csv"')
    assert html.count('<rect class="units"') == 3
    assert "Детский билет: 4 шт., 2\u00a0000,00 ₽" in html  # the bar's tooltip
    assert f'href="{reverse("admin:hub_product_change", args=[sales["child"].pk])}"' in html


def test_top_n_by_revenue_puts_the_rest_in_one_line(admin_client, sales):
    page = admin_client.get(URL, {**WEEK, "measure": "revenue", "top": "2"})
    assert rows_of(page) == [
        ("", "Взрослый билет", "3", "3\u00a0000,00", "2"),
        ("", "Детский билет", "4", "2\u00a0000,00", "2"),
        ("other", "Прочие товары", "2", "1\u00a0500,00", "—"),  # receipts are distinct: not a difference
        ("total", "Итого", "9", "6\u00a0500,00", "4"),
    ]
    assert page.content.decode().count('<rect class="revenue"') == 2


def test_weekdays_are_moscow_weekdays(admin_client, sales):
    page = admin_client.get(URL, {**WEEK, "by": "weekday"})
    rows = rows_of(page)
    assert [r[1] for r in rows[:7]] == ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота",
                                        "воскресенье"]
    # Wednesday 23:30 stays Wednesday; Thursday 00:30 (Wednesday in UTC) and the rink's Friday
    # 01:00 in Yekaterinburg (Thursday 23:00 in Moscow) are Moscow's Thursday
    assert [r[2] for r in rows[:7]] == ["2", "0", "4", "3", "0", "0", "0"]
    assert rows[3] == ("", "четверг", "3", "2\u00a0000,00", "2")
    assert rows[7] == ("total", "Итого", "9", "6\u00a0500,00", "4")
    assert page.content.decode().count('<rect class="units"') == 7


def test_hours_are_moscow_hours(sales):
    data = ticket_sales(FIRST, LAST, by="hour", kind="ticket")
    assert data.tz == "Europe/Moscow"
    by_hour = {b.key: (b.values["units"], b.values["revenue"], b.values["receipts"]) for b in data.rows
               if b.values["units"]}
    assert by_hour == {0: (1, Decimal("500.00"), 1), 10: (2, Decimal("2000.00"), 1),
                       23: (6, Decimal("4000.00"), 2)}
    assert [b.label for b in data.rows][23] == "23:00–23:59"


def test_a_venue_counts_its_own_sales_in_its_own_time_zone(admin_client, sales):
    rink = admin_client.get(URL, {**WEEK, "by": "hour", "venue": sales["rink"].pk})
    assert rink.context["report"].table.note.endswith("время — Asia/Yekaterinburg; только оплаченные чеки")
    hours = {r[1]: r[2] for r in rows_of(rink) if r[0] == "" and r[2] != "0"}
    assert hours == {"01:00–01:59": "2"}
    friday = ticket_sales(FIRST, LAST, by="weekday", venue=sales["rink"], kind="ticket")
    assert [b.values["units"] for b in friday.rows] == [0, 0, 0, 0, 2, 0, 0]
    aqua = ticket_sales(FIRST, LAST, venue=sales["aqua"], kind="ticket")
    assert [(b.label, b.values["units"]) for b in aqua.rows] == [("Детский билет", 4), ("Взрослый билет", 3)]


def test_a_category_counts_its_subcategories_and_the_kind_filter(admin_client, sales):
    every_kind = ticket_sales(FIRST, LAST, kind=None)
    assert sorted((b.label, b.values["units"], b.values["revenue"]) for b in every_kind.rows) == [
        ("Взрослый билет", 3, Decimal("3000.00")), ("Детский билет", 4, Decimal("2000.00")),
        ("Семейный", 2, Decimal("1500.00")), ("Сувенир", 1, Decimal("200.00")),  # a line without a product
        ("Хот-дог", 1, Decimal("300.00"))]
    assert every_kind.total == {"units": 11, "revenue": Decimal("7000.00"), "receipts": 5}
    page = admin_client.get(URL, {**WEEK, "category": sales["tickets"].pk, "kind": "all"})
    assert [r[1:3] for r in rows_of(page)] == [("Детский билет", "4"), ("Взрослый билет", "3"), ("Итого", "7")]
    kids = ticket_sales(FIRST, LAST, category=sales["kids"])
    assert [(b.label, b.values["units"]) for b in kids.rows] == [("Детский билет", 4)]
    goods = ticket_sales(FIRST, LAST, kind="goods")
    assert [(b.label, b.values["units"]) for b in goods.rows] == [("Хот-дог", 1)]


def test_fractional_quantities_keep_their_decimals(admin_client, sales):
    from tests.analytics.conftest import msk, sale
    sale(sales["aqua"], msk(3, 12), (sales["adult"], "Взрослый", "0.5", "1000"))
    page = admin_client.get(URL, WEEK)
    assert ("", "Взрослый билет", "3,5", "3\u00a0500,00", "3") in rows_of(page)
    assert read_csv(admin_client.get(URL, {**WEEK, "format": "csv"}))[2][1] == "3.5"


def test_csv_and_xlsx_have_the_page_s_numbers(admin_client, sales):
    answer = admin_client.get(URL, {**WEEK, "format": "csv"})
    assert answer["Content-Disposition"].startswith('attachment; filename="tickets-')
    assert read_csv(answer) == [
        ["Товар", "Штук", "Выручка, ₽", "Чеков"],
        ["Детский билет", "4", "2000.00", "2"],
        ["Взрослый билет", "3", "3000.00", "2"],
        ["Семейный", "2", "1500.00", "1"],
        ["Итого", "9", "6500.00", "4"],
    ]
    sheet = read_xlsx(admin_client.get(URL, {**WEEK, "format": "xlsx", "by": "weekday"}))
    assert [c.value for c in sheet[1]] == ["День недели", "Штук", "Выручка, ₽", "Чеков"]
    assert [c.value for c in sheet[5]] == ["четверг", 3, 2000, 2]
    assert sheet.cell(row=5, column=3).number_format == "#,##0.00"
    assert [c.value for c in sheet[9]] == ["Итого", 9, 6500, 4] and sheet.cell(row=9, column=1).font.b
    assert sheet.cell(row=11, column=1).value == "02.03.2026–08.03.2026, время — Europe/Moscow; только оплаченные чеки"


def test_the_download_links_repeat_the_filters(admin_client, sales):
    html = admin_client.get(URL, {**WEEK, "by": "hour", "venue": sales["aqua"].pk}).content.decode()
    venue = sales["aqua"].pk
    assert (f'href="?date_from=2026-03-02&amp;date_to=2026-03-08&amp;venue={venue}&amp;kind=ticket&amp;by=hour'
            f'&amp;measure=units&amp;top=20&amp;format=csv"') in html


def test_a_period_without_sales_says_so(admin_client, sales):
    page = admin_client.get(URL, {"date_from": "2020-01-01", "date_to": "2020-01-31"})
    html = page.content.decode()
    assert page.status_code == 200 and '<svg class="rep-bars"' not in html
    assert 'id="rep-no-chart"' in html and "нет данных" in html
    assert rows_of(page) == [("total", "Итого", "0", "0,00", "0")]
    weekdays = admin_client.get(URL, {"date_from": "2020-01-01", "date_to": "2020-01-31", "by": "weekday"})
    assert '<svg class="rep-bars"' not in weekdays.content.decode()


def test_only_lime_and_tilda_connections_are_venues(admin_client, sales):
    html = admin_client.get(URL).content.decode()
    assert ">Аквапарк (lime)</option>" in html and ">Каток (lime)</option>" in html and "CRM (amocrm)" not in html
    assert "Билеты › Детские" in html  # subcategories named with their parent
