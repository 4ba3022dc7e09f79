"""The passes page: passes, distinct visitors and amounts per attraction / zone and product,
per Moscow weekday and hour (a venue's own time zone when it is picked), one service point
only, and the files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from analytics.selectors.sales import pass_stats
from hub.models import Contact, ExternalRef, Pass, ServicePoint
from tests.analytics.conftest import YEKT, msk, read_csv, read_xlsx, rows_of

pytestmark = pytest.mark.django_db

URL = "/admin/analytics/passes/"
WEEK = {"date_from": "2026-03-02", "date_to": "2026-03-08"}
FIRST, LAST = dt.date(2026, 3, 2), dt.date(2026, 3, 8)


@pytest.fixture
def passes(venues, catalog) -> dict[str, object]:
    slide, pool = ServicePoint.objects.create(name="Горка"), ServicePoint.objects.create(name="Бассейн")
    anna, boris = Contact.objects.create(first_name="Анна"), Contact.objects.create(first_name="Борис")

    def made(venue, at, point, contact, amount="0", product=None) -> Pass:  # type: ignore[no-untyped-def]
        row = Pass.objects.create(passed_at=at, service_point=point, contact=contact, amount=Decimal(amount),
                                  product=product)
        if venue is not None:
            ExternalRef.objects.create(connection=venue, kind="pass", local_id=row.pk, external_id=f"p{row.pk}")
        return row

    aqua, rink = venues["aqua"], venues["rink"]
    made(aqua, msk(2, 10), slide, anna, product=catalog["adult"])
    made(aqua, msk(2, 11), slide, anna, "100", product=catalog["adult"])
    made(aqua, msk(4, 23, 30), pool, boris, "250")
    made(aqua, msk(5, 12), None, None)
    made(rink, dt.datetime(2026, 3, 6, 1, 0, tzinfo=YEKT), slide, boris)  # Thursday 23:00 in Moscow
    made(aqua, msk(9, 0, 30), slide, anna)  # Monday after the week in Moscow (Sunday in UTC)
    return {**venues, "slide": slide, "pool": pool}


def test_passes_per_attraction_with_visitors_and_amounts(admin_client, passes):
    page = admin_client.get(URL, WEEK)
    assert page.status_code == 200
    assert rows_of(page) == [
        ("", "Горка", "3", "2", "100,00"),
        ("", "Бассейн", "1", "1", "250,00"),
        ("", "Точка не указана", "1", "0", "0,00"),
        ("total", "Итого", "5", "2", "350,00"),
    ]
    html = page.content.decode()
    assert html.index('<svg class="rep-bars"') < html.index('<table class="rep"')
    assert html.count('<rect class="passes"') == 3
    assert "Горка: 3 проходов, 2 чел." in html


def test_the_top_and_the_rest(admin_client, passes):
    assert rows_of(admin_client.get(URL, {**WEEK, "top": "1"})) == [
        ("", "Горка", "3", "2", "100,00"),
        ("other", "Прочие точки", "2", "—", "250,00"),
        ("total", "Итого", "5", "2", "350,00"),
    ]


def test_per_product_weekday_and_hour_in_moscow(passes):
    products = pass_stats(FIRST, LAST, by="product")
    assert [(b.label, b.values["passes"]) for b in products.rows] == [("Товар не указан", 3), ("Взрослый билет", 2)]
    weekdays = pass_stats(FIRST, LAST, by="weekday")
    assert [b.values["passes"] for b in weekdays.rows] == [2, 0, 1, 2, 0, 0, 0]
    hours = {b.key: b.values["passes"] for b in pass_stats(FIRST, LAST, by="hour").rows if b.values["passes"]}
    assert hours == {10: 1, 11: 1, 12: 1, 23: 2}


def test_a_venue_in_its_time_zone_and_one_service_point(admin_client, passes):
    rink = pass_stats(FIRST, LAST, by="hour", venue=passes["rink"])
    assert rink.tz == "Asia/Yekaterinburg"
    assert {b.key: b.values["passes"] for b in rink.rows if b.values["passes"]} == {1: 1}
    pool = admin_client.get(URL, {**WEEK, "point": passes["pool"].pk})
    assert rows_of(pool) == [("", "Бассейн", "1", "1", "250,00"), ("total", "Итого", "1", "1", "250,00")]


def test_files(admin_client, passes):
    assert read_csv(admin_client.get(URL, {**WEEK, "format": "csv", "by": "hour"}))[24] == ["23:00–23:59", "2", "1",
                                                                                            "250.00"]
    sheet = read_xlsx(admin_client.get(URL, {**WEEK, "format": "xlsx"}))
    assert [c.value for c in sheet[1]] == ["Аттракцион / зона", "Проходов", "Посетителей", "Списано, ₽"]
    assert [c.value for c in sheet[2]] == ["Горка", 3, 2, 100]
    assert [c.value for c in sheet[5]] == ["Итого", 5, 2, 350]
