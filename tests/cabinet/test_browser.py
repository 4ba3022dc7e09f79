"""The cabinet in a real browser (Debian's chromium driven by Playwright) on a phone-sized
screen, against the live server: sign in with the SMS code read from SMS.ru's emulator, see
points, the child, the booking and the purchase, change the e-mail, withdraw marketing consent.
Screenshots of every step are kept in var/screenshots/cabinet-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hub.models import ConsentRecord, Contact
from hub.models.consent import Purpose
from tests.browser import PHONE, PHONE_SCREEN, browser_page, shot
from tests.cabinet.conftest import TYPED, last_code


@pytest.fixture
def page(live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A fresh browser profile on a phone screen."""
    with browser_page(tmp_path / "profile", monkeypatch, **PHONE) as page:
        yield page


def _shot(page: Page, name: str) -> None:
    shot(page, f"cabinet-{name}")


def _fits_the_screen(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]


@pytest.mark.django_db(transaction=True)
def test_a_client_signs_in_sees_the_card_edits_the_email_and_withdraws_consent(page, live_server, sms, family):
    page.goto(f"{live_server.url}/cabinet/")
    expect(page.get_by_role("heading", name="Вход")).to_be_visible()
    _fits_the_screen(page)
    page.get_by_label("Телефон").fill(TYPED)
    _shot(page, "1-login")
    page.get_by_role("button", name="Получить код").click()
    expect(page.get_by_role("heading", name="Введите код")).to_be_visible()
    expect(page.get_by_text("Код отправлен по SMS.")).to_be_visible()
    page.get_by_label("Код из сообщения").fill(last_code(sms))
    _shot(page, "2-code")
    page.get_by_role("button", name="Войти").click()

    expect(page.get_by_role("heading", name="Здравствуйте, Анна!")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("120")
    expect(page.locator("#bonus-history")).to_contain_text("сгорят")
    expect(page.locator("#children")).to_contain_text("Маша")
    expect(page.locator("#bookings")).to_contain_text("Зал «Джунгли»")
    expect(page.locator("#purchases")).to_contain_text("Билет детский × 2")
    _fits_the_screen(page)
    _shot(page, "3-card")

    page.get_by_role("link", name="Изменить данные").click()
    page.get_by_label("E-mail").fill("anna.new@example.com")
    _fits_the_screen(page)
    _shot(page, "4-edit")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("status").first).to_contain_text("Данные сохранены")
    expect(page.get_by_test_id("email")).to_have_text("anna.new@example.com")
    assert Contact.objects.get(pk=family.anna.pk).email == "anna.new@example.com"

    page.get_by_test_id("withdraw-marketing").click()
    expect(page.get_by_role("heading", name="Отозвать согласие?")).to_be_visible()
    _shot(page, "5-withdraw")
    page.get_by_test_id("confirm").click()
    expect(page.get_by_role("status").first).to_contain_text("Вы отказались от рекламных рассылок")
    expect(page.get_by_test_id("withdraw-marketing")).to_have_count(0)
    _shot(page, "6-withdrawn")
    record = ConsentRecord.objects.get(contact=family.anna, purpose=Purpose.MARKETING)
    assert record.withdrawn_at is not None and record.withdrawal_channel == "web"
