"""The connection wizard, page by page, against the systems' emulators on real ports."""

import pytest
import requests
from django.conf import settings as django_settings
from django.urls import reverse

from connectors.amocrm.mapping import contact_from_amo
from connectors.wizard.services import TEST_NAME, TEST_PHONE
from hub.models import Connection, Contact, ExternalRef, Inbox, Outbox
from hub.services.connections import connection_upsert

pytestmark = pytest.mark.django_db
FAST = {"bitrix24": "20/second", "lime": "1000/second"}


def step(connection, slug):
    return reverse("connection_wizard_step", args=[connection.pk, slug])


def create(client, system, **fields):
    """Step 1 → 2: choose the system, fill in the credentials; the new connection."""
    response = client.post(reverse("connection_wizard"), {"system": system, "time_zone": "Europe/Moscow", **fields})
    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get(name=fields["name"])
    assert response["Location"] == step(connection, "check")
    if system in FAST:  # emulators take more than production's pace: tests need not wait for it
        connection, _ = connection_upsert(name=connection.name, settings={"rate_limit": FAST[system]})
    return connection


def page(client, url, method="get", data=None):
    response = getattr(client, method)(url, data or {}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def amo_contacts(emulator, name=TEST_NAME):
    return [c for c in emulator.app.state()["contacts"] if contact_from_amo(c)["first_name"] == name]


def b24_contacts(emulator, name=TEST_NAME):
    return [c for c in emulator.app.state()["contacts"] if c.get("NAME") == name]


# ---------------------------------------------------------------------- CRMs


def test_amocrm_from_credentials_to_the_test_contact_in_the_crm(admin_client, amo_emulator, b24):
    start = page(admin_client, reverse("connection_wizard"))
    assert 'id="choose-amocrm"' in start and "правки менеджеров" in start  # each system with its line
    form = page(admin_client, reverse("connection_wizard") + "?system=amocrm")
    assert 'name="long_lived_token"' in form and "Сгенерировать долгосрочный токен" in form
    assert 'type="password" name="client_secret"' in form
    creds = amo_emulator.app.state()["credentials"]
    amo = create(admin_client, "amocrm", name="amoCRM продажи", base_url=amo_emulator.url, subdomain="demo",
                 client_id=creds["client_id"], client_secret=creds["client_secret"],
                 redirect_uri=creds["redirect_uri"], authorization_code=creds["authorization_code"])
    assert amo.system == "amocrm" and amo.settings["subdomain"] == "demo"
    # Stored secrets are never echoed back; a blank secret keeps the stored one.
    again = page(admin_client, step(amo, "credentials"))
    assert creds["client_secret"] not in again and creds["client_id"] in again
    check = page(admin_client, step(amo, "check"))
    assert 'data-ok="1"' in check and "Подключение работает. Воронок: 7" in check
    assert 'id="wizard-step-credentials" class="done"' in check and 'id="wizard-step-check" class="current"' in check
    assert 'id="wizard-step-routing" class="pending"' in check and 'id="wizard-next"' in check
    resaved = admin_client.post(step(amo, "credentials"), {"base_url": amo_emulator.url, "time_zone": "Europe/Moscow",
                                                           "subdomain": "demo", "client_secret": ""})
    assert resaved.status_code == 302
    amo.refresh_from_db()
    assert amo.credentials["client_secret"] == creds["client_secret"] and amo.credentials["access_token"]

    routing = page(admin_client, step(amo, "routing"))
    assert "Сначала загрузите" in routing
    loaded = page(admin_client, step(amo, "routing"), "post", {"load": "1"})
    assert "Загружено воронок: 7" in loaded and 'name="route_purchase"' in loaded
    saved = page(admin_client, step(amo, "routing"), "post",
                 {"purchase_deal_per": "line", "route_purchase": "3002|30020", "route_pass": "3003|30030"})
    assert "Маршрутизация сохранена" in saved and 'id="routing-table"' in saved
    assert "Покупки Лайм / Новая покупка" in saved
    amo.refresh_from_db()
    assert amo.settings["routes"]["purchase"] == {"pipeline_id": "3002", "stage_id": "30020"}

    hooks = page(admin_client, step(amo, "webhooks"))
    assert f'value="{django_settings.HUB_PUBLIC_URL}{amo.webhook_path}"' in hooks
    assert 'id="copy-webhook-url"' in hooks
    assert "Web hooks" in hooks and 'id="register-webhook"' not in hooks  # amoCRM takes it in its settings

    final = page(admin_client, step(amo, "final"), "post", {"run": "1"})
    their_id = ExternalRef.objects.get(connection=amo, kind="contact").external_id
    assert f"Контакт дошёл: id {their_id} в amoCRM" in final and 'data-ok="1"' in final
    assert TEST_PHONE in final  # the fields as amoCRM holds them
    [there] = amo_contacts(amo_emulator)
    assert str(there["id"]) == their_id and contact_from_amo(there)["phones"] == [TEST_PHONE]
    # Only the connection under test got it: the other CRM's row was skipped, nothing sent there.
    assert not ExternalRef.objects.filter(connection=b24, kind="contact").exists()
    assert Outbox.objects.get(connection=b24, action="contact.upsert").status == Outbox.Status.SKIPPED


def test_bitrix24_from_credentials_to_the_test_contact_in_the_crm(admin_client, b24_emulator):
    creds = b24_emulator.app.state()["credentials"]
    b24 = create(admin_client, "bitrix24", name="Битрикс24", base_url=b24_emulator.url,
                 webhook_url=b24_emulator.url + creds["webhook_url"])
    assert b24.credentials == {"webhook_url": b24_emulator.url + creds["webhook_url"]}
    check = page(admin_client, step(b24, "check"))
    assert 'data-ok="1"' in check and "Подключение работает" in check

    assert "Загружено воронок" in page(admin_client, step(b24, "routing"), "post", {"load": "1"})
    saved = page(admin_client, step(b24, "routing"), "post",
                 {"purchase_deal_per": "receipt", "route_purchase": "1|C1:NEW"})
    assert "Маршрутизация сохранена" in saved and 'id="route-purchase"' in saved
    b24.refresh_from_db()
    assert b24.settings["routes"] == {"purchase": {"pipeline_id": "1", "stage_id": "C1:NEW"}}

    hooks = page(admin_client, step(b24, "webhooks"))
    assert f"{django_settings.HUB_PUBLIC_URL}{b24.webhook_path}" in hooks and "ONCRMDEALUPDATE" in hooks
    assert 'type="password" name="application_token"' in hooks  # got while making the outgoing webhook
    page(admin_client, step(b24, "webhooks"), "post",
         {"save_hook_fields": "1", "application_token": creds["application_token"]})
    b24.refresh_from_db()
    assert b24.credentials["application_token"] == creds["application_token"]
    assert creds["application_token"] not in page(admin_client, step(b24, "webhooks"))

    final = page(admin_client, step(b24, "final"), "post", {"run": "1"})
    [there] = b24_contacts(b24_emulator)
    assert f"Контакт дошёл: id {there['ID']} в Битрикс24" in final
    assert [p["VALUE"] for p in there["PHONE"]] == [TEST_PHONE]


@pytest.mark.parametrize("crm_system", ["amocrm", "bitrix24"])
def test_the_final_check_twice_makes_one_contact_in_the_crm(admin_client, request, crm_system):
    connection = request.getfixturevalue("amo" if crm_system == "amocrm" else "b24")
    emulator = request.getfixturevalue("amo_emulator" if crm_system == "amocrm" else "b24_emulator")
    listed = amo_contacts if crm_system == "amocrm" else b24_contacts
    first = page(admin_client, step(connection, "final"), "post", {"run": "1"})
    assert "Контакт дошёл" in first
    second = page(admin_client, step(connection, "final"), "post", {"run": "1"})
    assert "Контакт дошёл" in second
    assert len(listed(emulator)) == 1
    assert Contact.objects.filter(first_name=TEST_NAME).count() == 1
    assert ExternalRef.objects.filter(connection=connection, kind="contact").count() == 1
    known = page(admin_client, step(connection, "final"))
    assert 'id="test-known"' in known


def test_a_refused_push_shows_the_error_and_the_outbox_row(admin_client, amo, amo_emulator):
    requests.post(f"{amo_emulator.url}/_emulator/faults", json={"status": 400, "times": 3,
                                                                "path_prefix": "/api/v4/contacts"}, timeout=5)
    final = page(admin_client, step(amo, "final"), "post", {"run": "1"})
    row = Outbox.objects.get(connection=amo, action="contact.upsert")
    assert 'data-ok="0"' in final and row.last_error and row.last_error[:40] in final
    assert reverse("admin:hub_outbox_change", args=[row.pk]) in final
    assert not amo_contacts(amo_emulator)


def test_wrong_credentials_are_a_readable_red_answer(admin_client, amo_emulator, b24_emulator):
    amo = create(admin_client, "amocrm", name="amo", base_url=amo_emulator.url, subdomain="demo",
                 long_lived_token="not-the-token")
    check = admin_client.get(step(amo, "check"))
    text = check.content.decode()
    assert check.status_code == 200 and 'data-ok="0"' in text and "Связи нет" in text
    assert "Что проверить" in text and step(amo, "credentials") in text
    b24 = create(admin_client, "bitrix24", name="b24", base_url=b24_emulator.url,
                 webhook_url=b24_emulator.url + "/rest/1/wrongcode/")
    text = page(admin_client, step(b24, "check"))
    assert 'data-ok="0"' in text and "Не удалось подключиться к CRM" in text


def test_credentials_are_checked_before_anything_is_saved(admin_client, amo_emulator, amo):
    missing = admin_client.post(reverse("connection_wizard"), {"system": "amocrm", "name": "amo-2",
                                                               "base_url": amo_emulator.url, "subdomain": "demo",
                                                               "client_id": "x", "time_zone": "Europe/Moscow"})
    assert missing.status_code == 200 and "Заполните «Долгосрочный токен»" in missing.content.decode()
    taken = admin_client.post(reverse("connection_wizard"), {"system": "amocrm", "name": amo.name,
                                                             "base_url": amo_emulator.url, "long_lived_token": "t",
                                                             "time_zone": "Europe/Moscow"})
    assert "уже есть" in taken.content.decode()
    bad_zone = admin_client.post(reverse("connection_wizard"), {
        "system": "amocrm", "name": "amo-3", "base_url": "https://demo.amocrm.ru", "long_lived_token": "t",
        "time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 200 and "Unknown time zone" in bad_zone.content.decode()
    assert set(Connection.objects.values_list("name", flat=True)) == {amo.name}
    unknown = admin_client.get(reverse("connection_wizard") + "?system=nope", follow=True)
    assert "не знает систему" in unknown.content.decode()


def test_the_amocrm_subdomain_comes_from_the_account_address(admin_client):
    amo = create(admin_client, "amocrm", name="amo", base_url="https://parkdemo.amocrm.ru", long_lived_token="t")
    assert amo.settings["subdomain"] == "parkdemo"


# ---------------------------------------------------------------------- pulled, bots


def test_lime_wizard_pulls_once_and_counts_what_arrived(admin_client, lime_emulator):
    creds = lime_emulator.app.state()["credentials"]
    lime = create(admin_client, "lime", name="Лайм", base_url=lime_emulator.url, username=creds["username"],
                  password=creds["password"], installation_id="1", cashdesk_id="1")
    assert {k: lime.settings[k] for k in ("installation_id", "cashdesk_id", "create_contacts_in_lime")} == {
        "installation_id": 1, "cashdesk_id": 1, "create_contacts_in_lime": False}
    assert lime.credentials == {"username": creds["username"], "password": creds["password"]}
    check = page(admin_client, step(lime, "check"))
    assert 'data-ok="1"' in check and "Подключение к Лайм работает" in check
    assert 'id="wizard-step-webhooks"' not in check and 'id="wizard-step-routing"' not in check  # polled, no CRM
    assert admin_client.get(step(lime, "webhooks")).status_code == 404
    final = page(admin_client, step(lime, "final"), "post", {"run": "1"})
    pulled = ExternalRef.objects.filter(connection=lime, kind="contact").count()
    assert pulled > 0 and f"клиентов {pulled}" in final and 'id="pull-counts"' in final
    assert 'data-ok="1"' in final
    again = page(admin_client, step(lime, "final"), "post", {"run": "1"})
    assert "Новых данных нет" in again and ExternalRef.objects.filter(connection=lime, kind="contact").count() == pulled


@pytest.mark.django_db(transaction=True)
def test_telegram_bot_wizard_registers_the_webhook(admin_client, telegram_emulator, live_server, settings):
    settings.HUB_PUBLIC_URL = live_server.url  # the emulator posts what the bot is sent to the hub under test
    creds = telegram_emulator.app.state()["credentials"]
    bot = create(admin_client, "telegram", name="Бот", base_url=telegram_emulator.url, token=creds["token"])
    assert 'data-ok="1"' in page(admin_client, step(bot, "check"))
    hooks = page(admin_client, step(bot, "webhooks"))
    assert 'id="register-webhook"' in hooks and "setWebhook" in hooks
    registered = page(admin_client, step(bot, "webhooks"), "post", {"register": "1"})
    assert "Telegram будет присылать сообщения боту" in registered
    state = telegram_emulator.app.state()["credentials"]
    bot.refresh_from_db()
    assert state["webhook_url"] == f"{live_server.url}{bot.webhook_path}"
    assert state["webhook_secret"] == bot.credentials["webhook_secret"]
    final = page(admin_client, step(bot, "final"))
    assert "/start" in final and 'id="no-inbox"' in final
    sent = requests.post(f"{telegram_emulator.url}/_emulator/incoming", json={"from": 555, "text": "/start"},
                         timeout=30)
    assert sent.json()["status"] == 200  # the hub took the update
    row = Inbox.objects.get(connection=bot)
    final = page(admin_client, step(bot, "final"))
    assert 'id="latest-inbox"' in final and reverse("admin:hub_inbox_change", args=[row.pk]) in final


def test_a_bad_bot_token_is_refused_readably(admin_client, telegram_emulator):
    bot = create(admin_client, "telegram", name="Бот", base_url=telegram_emulator.url, token="1:wrong")
    assert 'data-ok="0"' in page(admin_client, step(bot, "check"))
    registered = page(admin_client, step(bot, "webhooks"), "post", {"register": "1"})
    assert "Telegram не принял адрес вебхука" in registered


# ---------------------------------------------------------------------- permissions


def test_staff_without_the_connection_permissions_get_403(staff_client, amo):
    viewer = staff_client("view_connection")
    assert viewer.get(reverse("connection_wizard")).status_code == 403
    assert viewer.get(step(amo, "check")).status_code == 403
    adder = staff_client("add_connection")
    assert adder.get(reverse("connection_wizard")).status_code == 200
    assert adder.get(reverse("connection_wizard") + "?system=amocrm").status_code == 200
    assert adder.get(step(amo, "check")).status_code == 403
    assert adder.post(step(amo, "final"), {"run": "1"}).status_code == 403
    assert not Outbox.objects.filter(connection=amo).exists()


def test_changers_cannot_create_and_strangers_go_to_the_login(staff_client, client, amo):
    changer = staff_client("change_connection")
    start = changer.get(reverse("connection_wizard")).content.decode()
    assert step(amo, "credentials") in start and 'id="choose-amocrm"' not in start  # take up, not create
    assert changer.post(reverse("connection_wizard"), {"system": "amocrm", "name": "x"}).status_code == 403
    assert changer.get(step(amo, "credentials")).status_code == 200
    changer.logout()
    assert client.get(step(amo, "check"))["Location"].startswith(reverse("admin:login"))


def test_unknown_steps_are_404(admin_client, amo):
    assert admin_client.get(step(amo, "nope")).status_code == 404
    assert admin_client.get(reverse("connection_wizard_step", args=[999999, "check"])).status_code == 404


def test_the_connections_list_and_each_connection_lead_into_the_wizard(admin_client, amo):
    listing = page(admin_client, reverse("admin:hub_connection_changelist"))
    assert f'id="wizard-link" href="{reverse("connection_wizard")}"' in listing
    card = page(admin_client, reverse("admin:hub_connection_change", args=[amo.pk]))
    assert step(amo, "check") in card
