"""An operator connects amoCRM in a real browser (chromium via Playwright, live server, the
amoCRM emulator on a real port): credentials, the connection check, pipelines loaded and a
routing saved, the webhook URL, the test client sent and read back — then the dashboard shows
the connection healthy, with the client it sent. Screenshots in var/screenshots/admin-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from connectors.wizard.services import TEST_NAME
from hub.models import Connection, ExternalRef
from tests.browser import admin_login, browser_page, shot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(live_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    with browser_page(tmp_path / "profile", monkeypatch, viewport={"width": 1440, "height": 900}) as page:
        yield page


def test_an_operator_connects_amocrm_with_the_wizard_and_sees_the_client_arrive_on_the_dashboard(
        page: Page, live_server, admin_user, amo_emulator) -> None:
    creds = amo_emulator.app.state()["credentials"]
    admin_login(page, live_server.url, "admin", "password")
    page.locator("#dash-wizard").click()
    page.locator("#choose-amocrm").click()
    page.locator("#id_name").fill("amoCRM отдел продаж")
    page.locator("#id_base_url").fill(amo_emulator.url)
    page.locator("#id_subdomain").fill("demo")
    for key in ("client_id", "client_secret", "redirect_uri", "authorization_code"):
        page.locator(f"#id_{key}").fill(creds[key])
    shot(page, "admin-wizard-credentials")
    page.locator("#wizard-save").click()

    expect(page.locator("#check-result")).to_have_attribute("data-ok", "1")
    expect(page.locator("#check-result")).to_contain_text("Подключение работает")
    shot(page, "admin-wizard-check")
    page.locator("#wizard-next").click()

    page.locator("#load-catalog").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Загружено воронок: 7")
    page.locator("select[name=route_purchase]").select_option("3002|30020")
    page.locator("#save-routing").click()
    expect(page.locator("#route-purchase")).to_contain_text("Покупки Лайм / Новая покупка")
    shot(page, "admin-wizard-routing")
    amo = Connection.objects.get(name="amoCRM отдел продаж")
    assert amo.settings["routes"]["purchase"] == {"pipeline_id": "3002", "stage_id": "30020"}
    page.locator("#wizard-next").click()

    expect(page.locator("#webhook-url")).to_have_value(f"{settings.HUB_PUBLIC_URL}{amo.webhook_path}")
    shot(page, "admin-wizard-webhooks")
    page.locator("#wizard-next").click()

    page.locator("#run-final").click()
    their_id = ExternalRef.objects.get(connection=amo, kind="contact").external_id
    expect(page.locator("#final-result")).to_contain_text(f"Контакт дошёл: id {their_id} в amoCRM")
    expect(page.locator("#final-fields")).to_contain_text(TEST_NAME)
    shot(page, "admin-wizard-final")
    there = [c for c in amo_emulator.app.state()["contacts"] if str(c["id"]) == their_id]
    assert len(there) == 1

    page.goto(f"{live_server.url}/admin/")
    row = page.locator(f"#dash-connection-{amo.pk}")
    expect(row).to_have_attribute("data-ok", "1")
    expect(row).to_contain_text("отправлено 1")
    expect(row).to_contain_text("отправка: только что")
    expect(page.locator("#dash-contacts-today")).to_have_text("1")
    expect(page.locator(f"#dash-headroom-{amo.pk}")).to_contain_text("из 7 в секунду")
    shot(page, "admin-dashboard")
