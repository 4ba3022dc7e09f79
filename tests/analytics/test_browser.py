"""An auditor reads the ticket analytics in a real browser (chromium via Playwright, live
server): the picture first, the table under it, the hour view in the venue's time, and the
XLSX of the table downloaded and opened. Screenshots in var/screenshots/admin-analytics-*.png."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from hub.models import Product
from hub.services.roles import AUDITOR, roles_sync
from tests.analytics.conftest import sale
from tests.browser import DESKTOP, admin_login, browser_page, shot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with browser_page(tmp_path / "profile", monkeypatch, accept_downloads=True, **DESKTOP) as page:
        yield page


def test_an_auditor_reads_ticket_sales_by_product_and_hour_and_downloads_the_table(page: Page, live_server,
                                                                                   tmp_path: Path) -> None:
    roles_sync()
    auditor = get_user_model().objects.create_user("irina", password="irina-pass", is_staff=True)
    auditor.groups.add(Group.objects.get(name=AUDITOR.name))
    adult = Product.objects.create(name="Билет взрослый", kind=Product.Kind.TICKET, base_price=1500)
    child = Product.objects.create(name="Билет детский", kind=Product.Kind.TICKET, base_price=900)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    at = timezone.make_aware(dt.datetime.combine(yesterday, dt.time(11, 30)))
    sale(None, at, (adult, "Билет взрослый", "2", "1500"), (child, "Билет детский", "3", "900"))
    sale(None, at + dt.timedelta(hours=3), (adult, "Билет взрослый", "1", "1500"))

    admin_login(page, live_server.url, "irina", "irina-pass", "/admin/analytics/")
    page.get_by_role("link", name="Билеты: что и когда продаётся").click()
    expect(page.locator("svg.rep-bars")).to_be_visible()
    table = page.locator("#rep-table")
    expect(table.locator("tr", has_text="Билет взрослый")).to_contain_text("3")
    expect(table.locator("tr", has_text="Билет детский")).to_contain_text("3")
    shot(page, "admin-analytics-tickets")

    page.locator("#rep-filter select[name=by]").select_option("hour")
    page.locator("#rep-filter [type=submit]").click()
    expect(table.locator("tr", has_text="11:00")).to_contain_text("5")
    expect(table.locator("tr", has_text="14:00")).to_contain_text("1")
    shot(page, "admin-analytics-tickets-by-hour")

    with page.expect_download() as download:
        page.locator("#rep-xlsx").click()
    saved = tmp_path / "tickets.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(saved).active
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    hours = {row[0]: tuple(row[1:]) for row in cells}
    assert (hours["11:00–11:59"], hours["14:00–14:59"], hours["Итого"]) == ((5, 5700, 1), (1, 1500, 1), (6, 7200, 2))
