"""The "Offer results" admin page: the chart, then the table, the window and kind picked by
the operator (bad input explained, not a 500), XLSX and CSV files that read back to the
numbers of the page (names that look like formulas stay text), and who may see it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from loyalty.admin.offers import HEADER, offers_lines
from loyalty.models import OfferExposure, RuleHit
from loyalty.reports import offers_overview
from loyalty.services.ledger import program_default
from tests.loyalty.test_reports import client, expose, make_campaign, make_rule, receipt

pytestmark = pytest.mark.django_db

URL = "/admin/loyalty/offerexposure/results/"
RULE, CAMPAIGN = OfferExposure.Offer.RULE, OfferExposure.Offer.CAMPAIGN
OFFERED, CONTROL = OfferExposure.Group.OFFERED, OfferExposure.Group.CONTROL


@pytest.fixture
def offers() -> dict[str, int]:
    """A rule (named like a formula) and a campaign, each with both groups; one purchase only
    the 30-day window sees."""
    start = timezone.now() - dt.timedelta(days=60)
    rule = make_rule(program_default(), "=HYPERLINK(\"http://evil\")")
    anna, boris, vera = client("Анна"), client("Борис"), client("Вера")
    expose(RULE, rule.pk, anna, OFFERED, at=start, used_at=start)
    expose(RULE, rule.pk, boris, OFFERED, at=start)
    expose(RULE, rule.pk, vera, CONTROL, at=start)
    bought = receipt(anna, start + dt.timedelta(days=2), "1000.00")
    receipt(anna, start + dt.timedelta(days=20), "500.00")  # in 30 days, not in 7
    receipt(vera, start + dt.timedelta(days=1), "300.00")
    RuleHit.objects.create(receipt=bought, rule=rule, points=Decimal("100"))
    campaign = make_campaign("Весенняя рассылка")
    gleb, dina = client("Глеб"), client("Дина")
    expose(CAMPAIGN, campaign.pk, gleb, OFFERED, at=start)
    expose(CAMPAIGN, campaign.pk, dina, CONTROL, at=start)
    receipt(gleb, start + dt.timedelta(days=3), "250.00")
    return {"rule": rule.pk, "campaign": campaign.pk}


def test_the_page_shows_the_chart_then_the_table_and_the_downloads(admin_client, offers):
    assert reverse("admin:loyalty_offer_results") == URL
    page = admin_client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index('<svg class="rep-bars"') < html.index('<table class="rep">')
    assert html.count('<rect class="offered"') == 2 and html.count('<rect class="control"') == 2
    assert "Весенняя рассылка: получившие — 250,00 ₽ на клиента" in html  # the bar's tooltip
    assert "=HYPERLINK(&quot;http://evil&quot;)" in html  # escaped, in the chart and the table
    rows = page.context["results"]
    assert [(r.offer, r.offered.clients, r.control.clients) for r in rows] == [(RULE, 2, 1), (CAMPAIGN, 1, 1)]
    assert rows[0].offered.revenue_per_client == Decimal("750.00") and rows[0].uplift == Decimal("450.00")
    assert "750,00" in html and "450,00" in html and "150,0 %" in html
    assert 'href="?days=30&amp;format=xlsx"' in html and 'href="?days=30&amp;format=csv"' in html


def test_the_window_and_the_kind_change_the_numbers(admin_client, offers):
    week = admin_client.get(URL, {"days": "7", "kind": RULE})
    (rule,) = week.context["results"]
    assert rule.offered.revenue == Decimal("1000.00") and rule.days == 7
    assert week.context["errors"] == []
    assert '<option value="7" selected>' in week.content.decode()


@pytest.mark.parametrize(("params", "message"), [
    ({"days": "abc"}, "Не понятен период «abc»: можно 7, 30, 90 дней. Показаны результаты за 30 дней."),
    ({"days": "14"}, "Не понятен период «14»"),
    ({"days": "-7"}, "Не понятен период «-7»"),
    ({"days": "9" * 40}, "Не понятен период «99999999999999999999»"),
    ({"kind": "coupon"}, "Нет такого вида предложений «coupon»: показаны все."),
])
def test_bad_parameters_are_explained_and_the_defaults_shown(admin_client, offers, params, message):
    page = admin_client.get(URL, params)
    assert page.status_code == 200
    assert f'<p class="errornote">{message}' in page.content.decode()
    assert len(page.context["results"]) == 2 and page.context["days"] == 30


def expected_rows(days: int) -> list[list[object]]:
    return list(offers_lines(offers_overview(days=days)))


def test_csv_reads_back_to_the_same_numbers_and_a_formula_stays_text(admin_client, offers):
    answer = admin_client.get(URL, {"days": "7", "format": "csv"})
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    assert answer["Content-Disposition"].startswith('attachment; filename="offers-7d-')
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(HEADER)
    expected = [["" if cell is None else str(cell) for cell in line] for line in expected_rows(7)]
    expected[0][1] = "'" + expected[0][1]  # neutralised
    assert rows[1:] == expected
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\")"
    assert rows[1][2:5] == ["2", "1", "50.0"] and rows[1][12:] == ["200.00", "66.7", "100.00"]
    assert rows[2][13] == ""  # control revenue per client is 0: no uplift percentage


def test_xlsx_reads_back_to_the_same_numbers_and_a_formula_stays_text(admin_client, offers):
    answer = admin_client.get(URL, {"format": "xlsx"})
    assert answer["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert [c.value for c in sheet[1]] == list(HEADER)
    for number, line in enumerate(expected_rows(30), start=2):
        values = [c.value for c in sheet[number]]
        assert values == [float(v) if isinstance(v, Decimal) else v for v in line]
    name = sheet.cell(row=2, column=2)
    assert name.value == "=HYPERLINK(\"http://evil\")" and name.data_type == "s"
    assert sheet.cell(row=2, column=10).number_format == "#,##0.00"
    assert "30 дней" in sheet.cell(row=5, column=1).value


def test_only_staff_with_the_view_permission_see_the_page(offers):
    anonymous = Client()
    assert anonymous.get(URL).status_code == 302  # to the login page
    staff = User.objects.create_user("staff", password="x", is_staff=True)
    browser = Client()
    browser.force_login(staff)
    assert browser.get(URL).status_code == 403
    assert browser.get(URL, {"format": "csv"}).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_offerexposure"))
    browser.force_login(User.objects.get(pk=staff.pk))
    assert browser.get(URL).status_code == 200


def test_the_exposures_list_is_read_only_and_links_to_the_results(admin_client, offers):
    listing = admin_client.get(reverse("admin:loyalty_offerexposure_changelist"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert f'href="{URL}"' in html
    assert reverse("admin:loyalty_offerexposure_add") not in html
    exposure = OfferExposure.objects.filter(offer=CAMPAIGN).first()
    assert admin_client.post(reverse("admin:loyalty_offerexposure_delete", args=[exposure.pk]),
                             {"post": "yes"}).status_code == 403
    assert OfferExposure.objects.filter(pk=exposure.pk).exists()
