"""An operator sets up the loyalty engine in the admin, in a real browser (Debian's chromium
driven by Playwright) against the live server: a program with levels, a promo code and a
purchase limit, then a receipt run through "calculate" — the discount, the level's rate and
the explanation shown, and the limit refusing a bigger receipt. Screenshots of every step
are kept in var/screenshots/loyalty-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hub.models import Contact, Product, ProductCategory
from loyalty.models import Account, Program, PromoCode, PurchaseLimit, Tier
from loyalty.services.tiers import tiers_daily
from tests.browser import DESKTOP, browser_page, shot


@pytest.fixture
def page(live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with browser_page(tmp_path / "profile", monkeypatch, **DESKTOP) as page:
        yield page


def _shot(page: Page, name: str) -> None:
    shot(page, f"loyalty-{name}")


def _save(page: Page) -> None:
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_an_operator_sets_up_levels_a_promo_code_and_a_limit_and_calculates_a_receipt(page, live_server,
                                                                                      admin_user):
    anna = Contact.objects.create(first_name="Анна", phone="+79990000001")
    ticket = Product.objects.create(name="Билет взрослый", sku="T-1", category=ProductCategory.objects.create(
        name="Билеты"))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/loyalty/program/add/")
    page.locator("#id_username").fill("admin")
    page.locator("#id_password").fill("password")
    page.locator("input[type=submit]").click()

    # a program with two levels, by money spent
    page.locator("#id_name").fill("Клуб")
    page.locator("#id_code").fill("club")
    page.locator("#id_earn_percent").fill("3")
    page.locator("#id_max_redeem_share").fill("30")
    page.locator("#id_tier_metric").select_option("spend")
    for n, (name, threshold, percent) in enumerate((("Серебро", "0", "5"), ("Золото", "10000", "10"))):
        page.locator("#tiers-group .add-row a").click()
        page.locator(f"#id_tiers-{n}-name").fill(name)
        page.locator(f"#id_tiers-{n}-threshold").fill(threshold)
        page.locator(f"#id_tiers-{n}-earn_percent").fill(percent)
    _shot(page, "1-program")
    _save(page)
    program = Program.objects.get(code="club")
    assert list(program.tiers.values_list("name", flat=True)) == ["Серебро", "Золото"]
    Account.objects.create(contact=anna, program=program)
    tiers_daily()  # the nightly job puts the client on her level
    assert Account.objects.get(contact=anna, program=program).tier == Tier.objects.get(name="Серебро")

    # a promo code, once per client
    page.goto(f"{live_server.url}/admin/loyalty/promocode/add/")
    page.locator("#id_program").select_option(label="Клуб")
    page.locator("#id_code").fill("summer")
    page.locator("#id_name").fill("Лето −10%")
    page.locator("#id_max_uses_per_client").fill("1")
    page.locator("#id_discount_percent").fill("10")
    _shot(page, "2-promo")
    _save(page)
    assert PromoCode.objects.get(program=program).code == "SUMMER"

    # a limit: two items a day
    page.goto(f"{live_server.url}/admin/loyalty/purchaselimit/add/")
    page.locator("#id_program").select_option(label="Клуб")
    page.locator("#id_name").fill("Два билета в день")
    page.locator("#id_measure").select_option("quantity")
    page.locator("#id_max_value").fill("2")
    page.locator("#id_period").select_option("day")
    _shot(page, "3-limit")
    _save(page)
    assert PurchaseLimit.objects.get(program=program).max_value == 2

    # a receipt through "calculate", reached from the receipts list
    page.goto(f"{live_server.url}/admin/loyalty/receipt/")
    page.locator("a[href$='/admin/loyalty/receipt/calculate/']").click()
    page.locator("#id_program").select_option(label="Клуб")
    page.locator("#id_client").fill("8 999 000-00-01")
    page.locator("#id_product_0").select_option(label=ticket.name)
    page.locator("#id_quantity_0").fill("2")
    page.locator("#id_amount_0").fill("2000")
    page.locator("#id_promo_codes").fill("summer")
    page.locator("#calculate input[type=submit]").click()
    expect(page.locator("#discount")).to_have_text("200,00")
    expect(page.locator("#level")).to_have_text("Серебро")
    expect(page.locator("#earn")).to_have_text("90,00")  # the level's 5% of the 1800 paid
    expect(page.locator("#explanation")).to_contain_text("SUMMER")
    expect(page.locator("#refusals")).to_have_count(0)
    _shot(page, "4-calculated")

    page.locator("#id_quantity_0").fill("3")
    page.locator("#id_amount_0").fill("3000")
    page.locator("#calculate input[type=submit]").click()
    expect(page.locator("#refusals")).to_contain_text("Два билета в день")
    _shot(page, "5-over-the-limit")
