"""Operator set-up through the admin: load pipelines and fields, route, map fields."""

import pytest
from django.urls import reverse

from hub.models import Connection

pytestmark = pytest.mark.django_db


def test_load_route_and_create_missing_fields(admin_client, amo, amo_emulator):
    url = reverse("crm_routing", args=[amo.pk])
    page = admin_client.get(url).content.decode()
    assert "Сначала загрузите" in page and amo.webhook_path in page
    loaded = admin_client.post(url, {"load": "1"}, follow=True).content.decode()
    assert "Загружено воронок: 7" in loaded
    assert "Покупки Лайм → Новая покупка" in loaded
    assert "Каталог товаров" in loaded and ">Товары<" in loaded  # the product catalog to link deals to
    response = admin_client.post(url, {
        "purchase_deal_per": "receipt", "route_purchase": "3002|30020", "route_pass": "3003|30030",
        "route_preorder": "", "route_booking": "3004|30041", "create_missing": "on", "catalog_id": "5001"},
        follow=True)
    assert "Маршрутизация сохранена" in response.content.decode()
    settings = Connection.objects.get(pk=amo.pk).settings
    assert settings["routes"] == {"purchase": {"pipeline_id": "3002", "stage_id": "30020"},
                                  "pass": {"pipeline_id": "3003", "stage_id": "30030"},
                                  "booking": {"pipeline_id": "3004", "stage_id": "30041"}}
    assert settings["purchase_deal_per"] == "receipt" and settings["catalog_id"] == "5001"
    created = {f["name"] for f in amo_emulator.app.custom_fields["contacts"]}
    assert {"Дети (имена и даты рождения)", "Последний проход"} <= created
    assert set(settings["fields"]) >= {"children", "last_pass", "transactions"}


def test_a_stage_that_is_not_in_the_crm_is_refused(admin_client, amo):
    url = reverse("crm_routing", args=[amo.pk])
    admin_client.post(url, {"load": "1"})
    response = admin_client.post(url, {"purchase_deal_per": "line", "route_purchase": "999|1"})
    assert response.status_code == 200  # the form shows the error; nothing saved
    assert Connection.objects.get(pk=amo.pk).settings["routes"]["purchase"]["pipeline_id"] == 3002


def test_connection_page_links_to_the_set_up(admin_client, amo):
    page = admin_client.get(reverse("admin:hub_connection_change", args=[amo.pk])).content.decode()
    assert reverse("crm_routing", args=[amo.pk]) in page


def test_deal_triggers_are_configured_with_their_fields_and_refused_without_them(admin_client, amo, amo_emulator):
    amo_emulator.app.custom_fields["leads"] += [{"id": 880001, "name": "Зал", "type": "text"},
                                                {"id": 880002, "name": "Дата", "type": "text"},
                                                {"id": 880003, "name": "Время", "type": "text"},
                                                {"id": 880004, "name": "Баллы", "type": "numeric"}]
    url = reverse("crm_routing", args=[amo.pk])
    page = admin_client.post(url, {"load": "1"}, follow=True).content.decode()
    assert "Этап «запрошена бронь»" in page and "Баллы: количество" in page
    incomplete = admin_client.post(url, {"purchase_deal_per": "line", "booking_request": "3004|30041",
                                         "booking_hall": "880001"})
    assert "Choose the deal fields" in incomplete.content.decode()
    saved = admin_client.post(url, {"purchase_deal_per": "line", "booking_request": "3004|30041",
                                    "booking_hall": "880001", "booking_date": "880002", "booking_time": "880003",
                                    "bonus_request": "3001|30012", "bonus_points": "880004"}, follow=True)
    assert "Маршрутизация сохранена" in saved.content.decode()
    settings = Connection.objects.get(pk=amo.pk).settings
    assert settings["booking_request"] == {"pipeline_id": "3004", "stage_id": "30041"}
    assert settings["booking_fields"] == {"hall": "880001", "date": "880002", "time": "880003"}
    assert settings["bonus_request"] == {"pipeline_id": "3001", "stage_id": "30012"}
    assert settings["bonus_fields"] == {"points": "880004"}


def test_pipelines_load_when_the_crm_will_not_list_its_users(amo, amo_emulator):
    import requests

    from connectors.crm.setup import crm_catalog_load

    requests.post(f"{amo_emulator.url}/_emulator/faults",
                  json={"status": 403, "times": 5, "path_prefix": "/api/v4/users"}, timeout=5)
    catalog = crm_catalog_load(amo)
    assert catalog["users"] == [] and len(catalog["pipelines"]) == 7
