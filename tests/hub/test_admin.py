import pytest
from django.contrib import admin
from django.urls import reverse

from hub.models import Connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [m for m in admin.site._registry if m._meta.app_label == "hub"],
                         ids=lambda m: m.__name__)
def test_every_hub_admin_page_opens_in_russian(admin_client, model, webhook_connection):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = admin_client.get(url, {"q": "x"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 200
    assert "Выберите" in response.content.decode() or "Найти" in response.content.decode()


def test_connection_form_never_shows_secrets_and_merges_new_ones(admin_client, webhook_connection):
    url = reverse("admin:hub_connection_change", args=[webhook_connection.pk])
    page = admin_client.get(url).content.decode()
    assert "emu-secret" not in page and "emu-token" not in page
    assert webhook_connection.webhook_path in page
    data = {"name": "Site", "system": "webhook", "base_url": webhook_connection.base_url, "settings": "{}",
            "time_zone": "Europe/Moscow", "enabled": "on", "poll_interval": 30, "key": webhook_connection.key,
            "credentials_update": '{"token": "new-token"}'}
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert Connection.objects.get().credentials == {"token": "new-token", "secret": "emu-secret"}


def test_test_connection_action_reports_in_plain_words(admin_client, webhook_connection):
    response = admin_client.post(reverse("admin:hub_connection_changelist"),
                                 {"action": "check_connections", "_selected_action": [webhook_connection.pk]},
                                 follow=True)
    assert "Подключение работает" in response.content.decode()
