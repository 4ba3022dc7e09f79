"""Lapsed clients (who has not visited for N days) and birthdays of a month: counts in the
picture, the clients page by page in the table, all of them (up to a cap) in the files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from analytics.charts import chart_or_none, series
from analytics.forms import ALL, BirthdaysForm, LapsedForm
from analytics.selectors.clients import birthday_contacts, birthday_days, lapsed_buckets, lapsed_contacts
from analytics.selectors.sales import WEEKDAYS_SHORT
from analytics.tables import DATE, DATETIME, INT, Column, Row, Table
from analytics.views.base import EXPORT_LIMIT, PER_PAGE, Report, render_report
from hub.models import Contact
from hub.reports import BarSpec, GroupSpec

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from analytics.pages import Page

MONTHS = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь",
          "декабрь")
MONTHS_OF = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
             "ноября", "декабря")
CATEGORIES = dict(Contact.Category.choices)
LAPSED_COLUMNS = (Column("Клиент"), Column("Категория"), Column("Телефон"), Column("E-mail"),
                  Column("Последний проход", DATETIME), Column("Последняя покупка", DATETIME),
                  Column("Дней без визита", INT))
BIRTHDAY_COLUMNS = (Column("День", INT), Column("Клиент"), Column("Дата рождения", DATE), Column("Исполнится", INT),
                    Column("Категория"), Column("Телефон"), Column("E-mail"), Column("Родители"))


def _name(contact: Contact) -> str:
    return contact.full_name or f"#{contact.pk}"


def _local(value: dt.datetime | None) -> dt.datetime | None:
    return timezone.localtime(value) if value else None


def _capped(rows: QuerySet[Contact], total: int, make: Callable[[QuerySet[Contact]], Table], note: str) -> Table:
    """The whole list for a file, at most EXPORT_LIMIT rows; the note says when it was cut."""
    table = make(rows[:EXPORT_LIMIT])
    if total > EXPORT_LIMIT:
        note = f"{note}. Показаны первые {EXPORT_LIMIT} из {total}."
    table.note = note
    return table


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    return few if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14 else many


# --- lapsed ----------------------------------------------------------------------------------


def lapsed_table(contacts: Iterable[Contact], now: dt.datetime) -> Table:
    table = Table(columns=LAPSED_COLUMNS)
    for c in contacts:
        table.rows.append(Row((_name(c), str(CATEGORIES.get(c.category, c.category)), c.phone, c.email,
                               _local(c.last_pass_at), _local(c.last_purchase_at), (now - c.last_visit).days),
                              link=reverse("admin:hub_contact_change", args=[c.pk])))
    return table


def lapsed_view(request: HttpRequest, page: Page) -> HttpResponse:
    """Counts per how long ago they last came, and the clients, the most recently lapsed first."""
    form = LapsedForm(request.GET)
    v = form.values
    now = timezone.now()
    category = None if v["category"] == ALL else v["category"]
    buckets = lapsed_buckets(v["days"], basis=v["basis"], category=category, now=now)
    groups = [GroupSpec(label=b.label, sublabel="", bars=(BarSpec("clients", b.count, f"{b.label}: {b.count}"),))
              for b in buckets]
    total = sum(b.count for b in buckets)
    rows = lapsed_contacts(v["days"], basis=v["basis"], category=category, now=now)
    pager = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    zone = timezone.get_current_timezone_name()
    note = f"Не были {v['days']} дней и дольше на {timezone.localtime(now):%d.%m.%Y %H:%M} ({zone})"
    report = Report(
        chart_title="Сколько дней назад был последний визит", chart=chart_or_none(groups, whole=True),
        series=series(("clients", "Клиенты")), table=lapsed_table(pager.object_list, now), sheet="Давно не были",
        help=(f"Клиенты, которые не приходили {v['days']} дней и дольше (объединённые дубли не считаются). "
              "Визит — последний проход, покупка или что было позже; кто не приходил ни разу, сюда не попадает."),
        summary=f"Всего {total} {_plural(total, 'клиент', 'клиента', 'клиентов')}",
        empty="Нет клиентов, которые давно не приходили.", pager=pager,
        export=lambda: _capped(rows, total, lambda part: lapsed_table(part, now), note))
    return render_report(request, page, form, report)


# --- birthdays -------------------------------------------------------------------------------


def _parents(contact: Contact) -> str:
    return "; ".join(" ".join(p for p in (_name(link.parent), link.parent.phone) if p)
                     for link in contact.parent_links.all())


def birthday_table(contacts: Iterable[Contact], year: int) -> Table:
    table = Table(columns=BIRTHDAY_COLUMNS)
    for c in contacts:
        born = c.birth_date
        category = str(CATEGORIES.get(c.category, c.category))
        table.rows.append(Row((born.day, _name(c), born, year - born.year, category, c.phone, c.email, _parents(c)),
                              link=reverse("admin:hub_contact_change", args=[c.pk]), link_at=1))
    return table


def birthdays_view(request: HttpRequest, page: Page) -> HttpResponse:
    """Birthdays per day of the month, and who has them (children with their parents)."""
    form = BirthdaysForm(request.GET)
    v = form.values
    month: dt.date = v["month"]
    category = None if v["category"] == ALL else v["category"]
    days = birthday_days(month, category=category)
    groups = [GroupSpec(label=str(d.key), sublabel=WEEKDAYS_SHORT[_weekday(month, d.key)],
                        bars=(BarSpec("birthdays", d.count, f"{d.key} {MONTHS_OF[month.month - 1]}: {d.count}"),))
              for d in days if d.count]
    total = sum(d.count for d in days)
    rows = birthday_contacts(month.month, category=category)
    pager = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    month_name = f"{MONTHS[month.month - 1]} {month.year}"
    report = Report(
        chart_title=f"Дни рождения по дням: {month_name}", chart=chart_or_none(groups, whole=True),
        series=series(("birthdays", "Дни рождения")), table=birthday_table(pager.object_list, month.year),
        sheet=f"{month:%Y-%m}",
        help=("Клиенты и дети, родившиеся в этом месяце (объединённые дубли не считаются); «Исполнится» — "
              f"возраст в {month.year} году. Родившиеся 29 февраля показаны в феврале любого года."),
        summary=f"Всего {total} {_plural(total, 'день рождения', 'дня рождения', 'дней рождения')}",
        empty="В этом месяце дней рождения нет.", pager=pager,
        export=lambda: _capped(rows, total, lambda part: birthday_table(part, month.year),
                               f"Дни рождения: {month_name}"))
    return render_report(request, page, form, report)


def _weekday(month: dt.date, day: int) -> int:
    """The weekday (0 Monday) of ``day`` in ``month``; 29 February of a common year is 1 March's."""
    try:
        return month.replace(day=day).weekday()
    except ValueError:
        return (month.replace(day=28) + dt.timedelta(days=1)).weekday()
