"""What every analytics page shares: the index lists the pages the user may open, each page is
staff-only and needs the permission of its data (403 without it, files included), a filter
not understood is a form error and its default is used (never a 500, a file not written), and
the number of queries does not grow with the data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.pages import PAGES
from hub.models import Connection, Contact, ExternalRef, Pass, Product, ServicePoint
from hub.services.contacts import child_link
from loyalty.models import Entry, OfferExposure, Program
from loyalty.services.ledger import ledger_earn, ledger_redeem, program_default
from mailings.models import Message
from tests.analytics.conftest import msk, sale
from tests.loyalty.test_reports import expose, make_campaign, receipt

pytestmark = pytest.mark.django_db


def test_the_index_lists_every_page_for_a_superuser(admin_client):
    assert reverse("analytics_index") == "/admin/analytics/"
    page = admin_client.get("/admin/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    for item in PAGES:
        assert f'href="{reverse(item.url_name)}"' in html and item.description in html
    assert reverse(item.url_name) == f"/admin/analytics/{item.name}/"
    assert '<a href="/admin/analytics/">Аналитика</a>' in admin_client.get(reverse(PAGES[0].url_name)).content.decode()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_needs_its_permission(staff, page):
    url = reverse(page.url_name)
    assert Client().get(url).status_code == 302  # the admin's login
    others = [p.permission for p in PAGES if p.permission != page.permission]
    stranger = staff(*others)
    assert stranger.get(url).status_code == 403
    assert stranger.get(url, {"format": "csv"}).status_code == 403
    assert stranger.get(url, {"format": "xlsx"}).status_code == 403
    assert f'href="{url}"' not in stranger.get("/admin/analytics/").content.decode()
    allowed = staff(page.permission)
    assert allowed.get(url).status_code == 200
    assert allowed.get(url, {"format": "csv"}).status_code == 200
    index = allowed.get("/admin/analytics/").content.decode()
    assert f'href="{url}"' in index
    assert sum(f'href="{reverse(p.url_name)}"' in index for p in PAGES) == sum(
        p.permission == page.permission for p in PAGES)


def test_staff_without_any_report_permission_is_told_so(staff):
    page = staff().get("/admin/analytics/")
    assert page.status_code == 200 and 'id="analytics-none"' in page.content.decode()
    assert Client().get("/admin/analytics/").status_code == 302


BAD = [
    ("tickets", {"date_from": "abc"}, "Введите правильную дату."),
    ("tickets", {"date_from": "2026-03-08", "date_to": "2026-03-02"}, "Конец периода раньше начала"),
    ("tickets", {"date_from": "0001-01-01"}, "Дата должна быть между 01.01.1900 и 31.12.9998."),
    ("tickets", {"date_to": "9999-12-31"}, "Дата должна быть между"),
    ("tickets", {"top": "0"}, "больше либо равно 1"),
    ("tickets", {"top": "9" * 40}, "меньше либо равно 100"),
    ("tickets", {"by": "nope"}, "Выберите корректный вариант"),
    ("tickets", {"venue": "abc"}, "Выберите корректный вариант"),
    ("tickets", {"venue": "9" * 40}, "Выберите корректный вариант"),
    ("tickets", {"category": "-1"}, "Выберите корректный вариант"),
    ("tickets", {"kind": "<script>"}, "Выберите корректный вариант"),
    ("passes", {"point": "x"}, "Выберите корректный вариант"),
    ("lapsed", {"days": "-5"}, "больше либо равно 1"),
    ("lapsed", {"days": "abc"}, "Введите целое число."),
    ("lapsed", {"basis": "x"}, "Выберите корректный вариант"),
    ("birthdays", {"month": "2026-13"}, "Не понятен месяц «2026-13»"),
    ("birthdays", {"month": "май"}, "Не понятен месяц «май»"),
    ("liability", {"program": "x"}, "Выберите корректный вариант"),
    ("liability", {"days": "0"}, "больше либо равно 1"),
    ("campaigns", {"days": "14"}, "Выберите корректный вариант"),
    ("campaigns", {"channel": "fax"}, "Выберите корректный вариант"),
]


@pytest.mark.parametrize(("name", "params", "message"), BAD, ids=[f"{b[0]}-{next(iter(b[1]))}" for b in BAD])
def test_a_bad_filter_is_explained_and_its_default_used(admin_client, name, params, message):
    url = reverse(f"analytics_{name}")
    page = admin_client.get(url, params)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="rep-errors"' in html and message in html
    form = page.context["form"]
    assert all(form.values[field] == form.default_values.get(field) for field in form.errors)
    download = admin_client.get(url, {**params, "format": "csv"})
    assert download.status_code == 400 and message in download.content.decode()  # the page, not a file


def test_the_defaults_replace_only_what_was_not_understood(admin_client):
    page = admin_client.get("/admin/analytics/tickets/", {"top": "0", "by": "hour", "date_from": "2026-01-01"})
    values = page.context["form"].values
    assert (values["top"], values["by"], values["date_from"]) == (20, "hour", dt.date(2026, 1, 1))
    assert 'href="?date_from=2026-01-01&amp;' in page.content.decode()  # downloads repeat what is shown


def test_an_external_program_is_not_offered_as_a_choice(admin_client):
    external = Program.objects.create(code="ext", name="Внешняя",
                                      connection=Connection.objects.create(system="uds", name="UDS"))
    page = admin_client.get("/admin/analytics/liability/", {"program": external.pk})
    assert "Выберите корректный вариант" in page.content.decode()


# --- a constant number of queries ------------------------------------------------------------


def queries(browser: Client, url: str, params: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as captured:
        answer = browser.get(url, params)
    assert answer.status_code == 200
    return len(captured.captured_queries)


def more_sales(venues: dict[str, Connection], n: int) -> None:
    for i in range(n):
        product = Product.objects.create(name=f"Билет {i}")
        sale(venues["aqua"], msk(3, i % 24), (product, "x", "1", "100"), (None, f"без товара {i}", "2", "10"))


def more_passes(venue: Connection, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        point = ServicePoint.objects.create(name=f"Зона {i}")
        row = Pass.objects.create(passed_at=msk(4, i % 24), service_point=point,
                                  contact=Contact.objects.create(first_name=f"П{i}"))
        ExternalRef.objects.create(connection=venue, kind="pass", local_id=row.pk, external_id=f"x{row.pk}")


def more_clients(n: int, start: int = 0) -> None:
    now = timezone.now()
    for i in range(start, start + n):
        parent = Contact.objects.create(first_name=f"Р{i}", last_pass_at=now - dt.timedelta(days=70 + i * 5),
                                        birth_date=dt.date(1980, 5, 1 + i % 28))
        child = Contact.objects.create(first_name=f"Д{i}", category=Contact.Category.CHILD,
                                       birth_date=dt.date(2015, 5, 1 + i % 28))
        child_link(parent, child)


def more_points(n: int, start: int = 0) -> None:
    now = timezone.now()
    for i in range(start, start + n):
        program = Program.objects.create(code=f"p{i}", name=f"Программа {i}")
        contact = Contact.objects.create(first_name=f"Б{i}")
        for program_ in (program, program_default()):
            for days in (2, 9, 16):
                ledger_earn(contact, "10", reason="т", source=Entry.Source.MANUAL, program=program_,
                            idempotency_key=f"m{i}:{program_.pk}:{days}", expires_at=now + dt.timedelta(days=days))
        ledger_redeem(contact, "5", reason="т", source=Entry.Source.PURCHASE, idempotency_key=f"r{i}",
                      program=program_default())


def more_mailings(n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        campaign = make_campaign(f"Рассылка {i}")
        contact = Contact.objects.create(first_name=f"М{i}")
        for channel in ("email", "sms"):
            row = Message.objects.create(campaign=campaign, contact=contact, key=f"mm{i}{channel}", channel=channel,
                                         address="x", text="т", status=Message.Status.DELIVERED)
            Message.objects.filter(pk=row.pk).update(created_at=msk(3, 12))
        expose(OfferExposure.Offer.CAMPAIGN, campaign.pk, contact, OfferExposure.Group.OFFERED, at=msk(3, 12))
        receipt(contact, msk(4, 12), "100")


WEEK = {"date_from": "2026-03-01", "date_to": "2026-03-08"}


def test_tickets_and_passes_take_the_same_queries_for_more_data(admin_client, sales):
    pages = [("/admin/analytics/tickets/", {**WEEK, **extra}) for extra in
             ({}, {"by": "hour", "venue": str(sales["aqua"].pk)}, {"by": "weekday", "kind": "all",
                                                                   "category": str(sales["tickets"].pk)},
              {"format": "xlsx"})]
    pages += [("/admin/analytics/passes/", {**WEEK, **extra}) for extra in ({}, {"by": "hour"}, {"format": "csv"})]
    more_passes(sales["aqua"], 2)
    before = [queries(admin_client, url, params) for url, params in pages]
    more_sales(sales, 40)
    more_passes(sales["aqua"], 40, start=2)
    assert [queries(admin_client, url, params) for url, params in pages] == before
    assert max(before) <= 12


def test_client_lists_take_the_same_queries_for_more_data(admin_client, db):
    more_clients(2)
    pages = [("/admin/analytics/lapsed/", {}), ("/admin/analytics/lapsed/", {"format": "xlsx"}),
             ("/admin/analytics/birthdays/", {"month": "1990-05"}),
             ("/admin/analytics/birthdays/", {"month": "1990-05", "format": "csv"})]
    before = [queries(admin_client, url, params) for url, params in pages]
    more_clients(120, start=2)  # more than a page
    after = [queries(admin_client, url, params) for url, params in pages]
    assert after == before and max(before) <= 12
    assert admin_client.get("/admin/analytics/lapsed/").context["report"].pager.paginator.num_pages == 2


def test_liability_and_campaigns_take_the_same_queries_for_more_data(admin_client, db):
    more_points(1)
    more_mailings(1)
    pages = [("/admin/analytics/liability/", {}), ("/admin/analytics/liability/", {"format": "xlsx"}),
             ("/admin/analytics/campaigns/", WEEK), ("/admin/analytics/campaigns/", {**WEEK, "format": "csv"})]
    before = [queries(admin_client, url, params) for url, params in pages]
    more_points(15, start=1)
    more_mailings(15, start=1)
    after = [queries(admin_client, url, params) for url, params in pages]
    assert after == before and max(before) <= 14
    main = next(p for p in admin_client.get("/admin/analytics/liability/").context["report"].table.rows
                if p.cells[0] == "Бонусная программа")
    assert main.cells[1:3] == (16, Decimal("400.00"))  # 16 clients: 30 earned, 5 spent each
