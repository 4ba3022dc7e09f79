import pytest
from django.contrib import admin
from django.urls import reverse

from hub.models import Connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [m for m in admin.site._registry if m._meta.app_label in ("hub", "bookings")],
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


def test_merge_action_merges_into_the_oldest_and_keeps_history(admin_client):
    from django.utils import timezone

    from hub.services.contacts import ContactData, contact_upsert
    from hub.services.sales import pass_record

    first, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    second, _ = contact_upsert(ContactData(first_name="Аня", phones=["+79123450000"]))
    pass_record(passed_at=timezone.now(), contact=second)
    response = admin_client.post(reverse("admin:hub_contact_changelist"),
                                 {"action": "merge_contacts", "_selected_action": [first.pk, second.pk]},
                                 follow=True)
    assert "вся их история перенесена" in response.content.decode()
    second.refresh_from_db()
    assert second.merged_into_id == first.pk and first.passes.count() == 1


def test_consent_withdraw_action(admin_client):
    from hub.models import ConsentRecord
    from hub.models.consent import Purpose
    from hub.services.consent import consent_grant, consent_text_publish

    consent_text_publish(purpose=Purpose.MARKETING, version="1", text="Реклама", operator_name="ООО")
    record = consent_grant(purpose=Purpose.MARKETING, subject_kind="phone", subject_id="+79123456789",
                           channel="web", method="checkbox")
    admin_client.post(reverse("admin:hub_consentrecord_changelist"),
                      {"action": "withdraw", "_selected_action": [record.pk]})
    record = ConsentRecord.objects.get()
    assert record.withdrawn_at is not None and record.withdrawal_channel == "admin"


def test_pull_now_action_pulls_in_the_background(admin_client, webhook_connection, webhook_emulator):
    from django.test import TestCase

    webhook_emulator.app._store_contact("c1", {"phone": "+79120000001"})
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(reverse("admin:hub_connection_changelist"),
                          {"action": "pull_now", "_selected_action": [webhook_connection.pk]})
    webhook_connection.refresh_from_db()
    assert webhook_connection.last_pull_at is not None
    assert Connection.objects.get().refs.filter(kind="contact", external_id="c1").exists()


def test_contact_form_normalises_the_phone_and_explains_a_clash(admin_client, webhook_connection):
    from hub.models import Contact, Outbox
    from hub.services.contacts import ContactData, contact_upsert

    other, _ = contact_upsert(ContactData(first_name="Другой", phones=["+79990000000"]))
    fields = {"first_name": "Анна", "last_name": "", "middle_name": "", "email": "", "birth_date": "",
              "category": "adult", "identities-TOTAL_FORMS": 0, "identities-INITIAL_FORMS": 0,
              "children_links-TOTAL_FORMS": 0, "children_links-INITIAL_FORMS": 0,
              "cards-TOTAL_FORMS": 0, "cards-INITIAL_FORMS": 0}
    response = admin_client.post(reverse("admin:hub_contact_add"), {**fields, "phone": "8 (912) 345-67-89"})
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = Contact.objects.get(first_name="Анна")
    assert contact.phone == "+79123456789"
    assert contact.identities.get().value == "+79123456789"
    assert Outbox.objects.filter(target_id=contact.pk, action="contact.upsert").exists()
    clash = admin_client.post(reverse("admin:hub_contact_add"), {**fields, "phone": "+7 999 000-00-00"})
    assert f"#{other.pk}" in clash.content.decode()
    bad = admin_client.post(reverse("admin:hub_contact_add"), {**fields, "phone": "123"})
    assert "Некорректный номер телефона" in bad.content.decode()

