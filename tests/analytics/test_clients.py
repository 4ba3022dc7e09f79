"""Lapsed clients (counts per how long ago, the list most recently lapsed first, by pass, by
purchase or either, adults or children; merged duplicates and clients who never came left
out) and birthdays of a month (per day, children with their parents, the age they turn,
29 February in February), each with the list page by page and whole in the files."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from analytics.views import clients
from hub.models import Contact
from hub.services.contacts import child_link
from tests.analytics.conftest import read_csv, read_xlsx, rows_of

pytestmark = pytest.mark.django_db

LAPSED, BIRTHDAYS = "/admin/analytics/lapsed/", "/admin/analytics/birthdays/"
BUCKETS_60 = ["60–89 дн.", "90–179 дн.", "180–364 дн.", "365–729 дн.", "730+ дн."]


def ago(days: int, hours: int = 0) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days, hours=hours)


def person(name: str, **fields: object) -> Contact:
    return Contact.objects.create(first_name=name, last_name="Тестова", **fields)


@pytest.fixture
def lapsed() -> dict[str, Contact]:
    anna = person("Анна", phone="+79990000001", last_pass_at=ago(70))
    people = {
        "anna": anna,
        "boris": person("Борис", last_purchase_at=ago(100)),
        "vera": person("Вера", last_pass_at=ago(400), last_purchase_at=ago(10)),  # bought lately: not lapsed
        "gleb": person("Глеб"),  # never came
        "dina": person("Дина", last_pass_at=ago(800), merged_into=anna),  # a merged duplicate
        "kid": person("Ёжик", category=Contact.Category.CHILD, last_pass_at=ago(61)),
        "zoya": person("Зоя", last_pass_at=ago(59, hours=23)),  # not yet 60 days
    }
    return people


def counts(page) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {g.label: int(float(g.bars[0].title.rsplit(": ", 1)[1])) for g in page.context["report"].chart.groups}


def test_lapsed_counts_and_list(admin_client, lapsed):
    page = admin_client.get(LAPSED)
    assert page.status_code == 200
    assert counts(page) == dict(zip(BUCKETS_60, [2, 1, 0, 0, 0], strict=True))
    rows = rows_of(page)
    assert [r[1] for r in rows] == ["Тестова Ёжик", "Тестова Анна", "Тестова Борис"]
    assert rows[1][2:4] == ("Взрослый", "+79990000001") and rows[1][-1] == "70"
    assert rows[0][2] == "Ребёнок" and rows[2][-1] == "100"
    html = page.content.decode()
    assert 'id="rep-summary">Всего 3 клиента' in html
    assert html.index('<svg class="rep-bars"') < html.index('<table class="rep"')
    assert f'href="/admin/hub/contact/{lapsed["anna"].pk}/change/"' in html


def test_lapsed_by_pass_only_children_and_a_longer_n(admin_client, lapsed):
    by_pass = admin_client.get(LAPSED, {"basis": "pass"})
    assert counts(by_pass) == dict(zip(BUCKETS_60, [2, 0, 0, 1, 0], strict=True))
    assert [r[1] for r in rows_of(by_pass)] == ["Тестова Ёжик", "Тестова Анна", "Тестова Вера"]
    children = admin_client.get(LAPSED, {"category": "child"})
    assert [r[1] for r in rows_of(children)] == ["Тестова Ёжик"]
    longer = admin_client.get(LAPSED, {"days": "90"})
    assert counts(longer) == {"90–179 дн.": 1, "180–364 дн.": 0, "365–729 дн.": 0, "730+ дн.": 0}
    odd = admin_client.get(LAPSED, {"days": "45", "basis": "purchase"})
    assert counts(odd) == {"45–59 дн.": 0, "60–89 дн.": 0, "90–179 дн.": 1, "180–364 дн.": 0, "365–729 дн.": 0,
                           "730+ дн.": 0}


def test_lapsed_nobody_says_so(admin_client, lapsed):
    page = admin_client.get(LAPSED, {"days": "3000"})
    html = page.content.decode()
    assert page.context["report"].chart is None and '<svg class="rep-bars"' not in html
    assert "Нет клиентов, которые давно не приходили." in html and 'id="rep-no-chart"' in html


def test_lapsed_pages_and_the_whole_list_in_the_files(admin_client, lapsed):
    with mock.patch.object(clients, "PER_PAGE", 2):
        first = admin_client.get(LAPSED)
        second = admin_client.get(LAPSED, {"page": "2"})
        junk = admin_client.get(LAPSED, {"page": "abc"})
    assert [r[1] for r in rows_of(first)] == ["Тестова Ёжик", "Тестова Анна"]
    assert [r[1] for r in rows_of(second)] == ["Тестова Борис"]
    assert [r[1] for r in rows_of(junk)] == ["Тестова Ёжик", "Тестова Анна"]
    assert 'href="?days=60&amp;basis=any&amp;category=all&amp;page=2"' in first.content.decode()
    rows = read_csv(admin_client.get(LAPSED, {"format": "csv"}))
    assert rows[0] == ["Клиент", "Категория", "Телефон", "E-mail", "Последний проход", "Последняя покупка",
                       "Дней без визита"]
    assert [r[0] for r in rows[1:]] == ["Тестова Ёжик", "Тестова Анна", "Тестова Борис"]
    anna = lapsed["anna"]
    # a leading + is neutralised like any formula start (hub.reports.safe_text)
    assert rows[2] == ["Тестова Анна", "Взрослый", "'+79990000001", "",
                       f"{timezone.localtime(anna.last_pass_at):%d.%m.%Y %H:%M}", "", "70"]
    sheet = read_xlsx(admin_client.get(LAPSED, {"format": "xlsx"}))
    assert sheet.cell(row=3, column=1).value == "Тестова Анна" and sheet.cell(row=3, column=7).value == 70
    written = sheet.cell(row=3, column=5).value
    assert written.replace(second=0, microsecond=0) == timezone.localtime(anna.last_pass_at).replace(
        tzinfo=None, second=0, microsecond=0)
    assert sheet.cell(row=3, column=5).number_format == "dd.mm.yyyy hh:mm"
    assert sheet.cell(row=6, column=1).value.startswith("Не были 60 дней и дольше на ")


def test_the_file_is_capped_and_says_so(admin_client, lapsed):
    with mock.patch.object(clients, "EXPORT_LIMIT", 2):
        sheet = read_xlsx(admin_client.get(LAPSED, {"format": "xlsx"}))
    assert sheet.cell(row=4, column=1).value is None
    assert sheet.cell(row=5, column=1).value.endswith("Показаны первые 2 из 3.")


# --- birthdays -------------------------------------------------------------------------------


@pytest.fixture
def birthdays() -> dict[str, Contact]:
    mother = person("Мария", phone="+79990000002", birth_date=dt.date(1990, 5, 3))
    son = person("Петя", category=Contact.Category.CHILD, birth_date=dt.date(2018, 5, 3))
    child_link(mother, son)
    return {
        "mother": mother, "son": son,
        "uncle": person("Фёдор", birth_date=dt.date(1985, 5, 31)),
        "june": person("Июнь", birth_date=dt.date(1990, 6, 1)),
        "twin": person("Дубль", birth_date=dt.date(1990, 5, 10), merged_into=mother),
        "leap": person("Високос", birth_date=dt.date(2000, 2, 29)),
    }


def test_birthdays_of_a_month(admin_client, birthdays):
    page = admin_client.get(BIRTHDAYS, {"month": "2026-05"})
    assert page.status_code == 200
    chart = page.context["report"].chart
    assert [(g.label, g.sublabel, g.bars[0].title) for g in chart.groups] == [
        ("3", "Вс", "3 мая: 2"), ("31", "Вс", "31 мая: 1")]
    assert rows_of(page) == [
        ("", "3", "Тестова Мария", "03.05.1990", "36", "Взрослый", "+79990000002", "", ""),
        ("", "3", "Тестова Петя", "03.05.2018", "8", "Ребёнок", "", "", "Тестова Мария +79990000002"),
        ("", "31", "Тестова Фёдор", "31.05.1985", "41", "Взрослый", "", "", ""),
    ]
    html = page.content.decode()
    assert 'id="rep-summary">Всего 3 дня рождения' in html
    assert 'value="2026-05"' in html
    mother = birthdays["mother"]
    assert f'<td><a href="/admin/hub/contact/{mother.pk}/change/">Тестова Мария</a></td>' in html


def test_children_only_and_29_february(admin_client, birthdays):
    children = admin_client.get(BIRTHDAYS, {"month": "2026-05", "category": "child"})
    assert [r[2] for r in rows_of(children)] == ["Тестова Петя"]
    february = admin_client.get(BIRTHDAYS, {"month": "2027-02"})
    assert [g.label for g in february.context["report"].chart.groups] == ["29"]
    assert rows_of(february)[0][1:5] == ("29", "Тестова Високос", "29.02.2000", "27")


def test_this_month_by_default_and_a_month_without_birthdays(admin_client, birthdays):
    page = admin_client.get(BIRTHDAYS)
    assert f'value="{timezone.localdate():%Y-%m}"' in page.content.decode()
    empty = admin_client.get(BIRTHDAYS, {"month": "2026-07"})
    assert empty.context["report"].chart is None
    assert "В этом месяце дней рождения нет." in empty.content.decode()


def test_birthday_files(admin_client, birthdays):
    rows = read_csv(admin_client.get(BIRTHDAYS, {"month": "2026-05", "format": "csv"}))
    assert rows[0] == ["День", "Клиент", "Дата рождения", "Исполнится", "Категория", "Телефон", "E-mail", "Родители"]
    assert rows[2] == ["3", "Тестова Петя", "03.05.2018", "8", "Ребёнок", "", "", "Тестова Мария +79990000002"]
    assert rows[1][5] == "'+79990000002"
    sheet = read_xlsx(admin_client.get(BIRTHDAYS, {"month": "2026-05", "format": "xlsx"}))
    assert sheet.title == "2026-05"
    assert sheet.cell(row=4, column=3).value == dt.datetime(1985, 5, 31)
    assert sheet.cell(row=4, column=3).number_format == "dd.mm.yyyy"
    assert sheet.cell(row=6, column=1).value == "Дни рождения: май 2026"
