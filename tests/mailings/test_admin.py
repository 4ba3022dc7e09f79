"""Mailings in the admin: a campaign composed as fields (channels in order, segment filters)
gets its schedule; bad set-ups are explained; the send page shows count and sample and a
double submit is one run; a template previews with a real client; failed messages are sent
again; every page opens."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from hub.models import Tag
from mailings.models import Campaign, CampaignRun, Message, NpsSurvey, Template

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(db: None) -> Template:
    return Template.objects.create(name="Привет",
                                   body='{{ first_name }}, у вас {{ bonus_balance|plural:"балл,балла,баллов" }}')


def _form(template: Template, **extra: object) -> dict[str, object]:
    form = {"name": "VIP-рассылка", "kind": "segment", "active": "on", "template": template.pk, "marketing": "on",
            "time_zone": "Europe/Moscow", "send_time": "10:00", "quiet_from": "21:00", "quiet_to": "09:00",
            "days_before": "0", "audience": "clients", "inactivity": "pass", "cooldown_days": "30",
            "channel_1": "telegram", "channel_2": "email", "runs-TOTAL_FORMS": "0", "runs-INITIAL_FORMS": "0"}
    form.update(extra)
    return form


def test_a_campaign_is_composed_as_fields_and_gets_its_schedule(admin_client, template):
    Tag.objects.create(name="VIP")
    answer = admin_client.post(reverse("admin:mailings_campaign_add"),
                               _form(template, tags=["VIP"], spend_from="1000", kind="birthday"))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert campaign.channels == ["telegram", "email"]
    assert campaign.rules == {"tags": ["VIP"], "spend_from": "1000"}
    assert PeriodicTask.objects.get(pk=campaign.periodic_task_id).crontab.hour == "10"
    page = admin_client.get(reverse("admin:mailings_campaign_change", args=[campaign.pk])).content.decode()
    assert 'value="1000"' in page and "Рассылка: VIP-рассылка" in page


def test_bad_set_ups_are_explained(admin_client, template):
    answer = admin_client.post(reverse("admin:mailings_campaign_add"),
                               _form(template, kind="lapsed", channel_2="telegram"))
    page = answer.content.decode()
    assert answer.status_code == 200 and not Campaign.objects.exists()
    assert "Каждый канал — один раз." in page
    answer = admin_client.post(reverse("admin:mailings_campaign_add"), _form(template, kind="lapsed"))
    assert "сколько дней клиент не приходил" in answer.content.decode()


def test_the_send_page_previews_count_and_sample_and_a_double_submit_is_one_run(admin_client, campaign, person,
                                                                                  email_channel):
    vip = Tag.objects.create(name="VIP")
    anna = person("Анна")
    anna.tags.add(vip)
    person("Олег")
    mailing = campaign(Campaign.Kind.SEGMENT, "Привет, {{ first_name }}!", rules={"tags": ["VIP"]})
    url = reverse("admin:mailings_campaign_send", args=[mailing.pk])
    page = admin_client.get(url).content.decode()
    assert "Подходит клиентов сейчас: 1" in page and "Привет, Анна!" in page
    assert not Message.objects.exists()  # a preview sends nothing
    token = page.split('name="token" value="')[1].split('"')[0]
    admin_client.post(url, {"token": token})
    admin_client.post(url, {"token": token})
    assert CampaignRun.objects.count() == 1 and Message.objects.get().contact == anna


def test_a_template_previews_with_a_real_client(admin_client, template, person):
    anna = person("Анна")
    url = reverse("admin:mailings_template_preview", args=[template.pk])
    page = admin_client.get(url, {"contact": anna.pk}).content.decode()
    assert "Анна, у вас 0 баллов" in page
    assert "Выберите корректный вариант" in admin_client.get(url, {"contact": 999999}).content.decode()


def test_a_broken_template_is_refused_with_the_reason(admin_client):
    answer = admin_client.post(reverse("admin:mailings_template_add"), {"name": "x", "body": "{% if %}"})
    assert answer.status_code == 200 and "Ошибка в шаблоне" in answer.content.decode()
    assert not Template.objects.exists()


def test_editing_a_templates_text_makes_a_new_version(template):
    template.body += "!"
    template.save()
    template.name = "Другое имя"
    template.save()
    assert template.version == 2


def test_failed_messages_are_sent_again_by_an_admin_action(admin_client, email_channel):
    failed = Message.objects.create(key="k", channel="email", connection=email_channel, address="a@example.com",
                                    text="t", status=Message.Status.FAILED, error="SMTP недоступен")
    admin_client.post(reverse("admin:mailings_message_changelist"),
                      {"action": "send_again", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == Message.Status.QUEUED


def test_every_mailings_page_opens(admin_client, campaign, person, email_channel):
    anna = person("Анна", birth_date=dt.date(1990, 1, 1))
    nps = campaign(Campaign.Kind.NPS, crm_connection=email_channel, to_stage="x")
    NpsSurvey.objects.create(campaign=nps, contact=anna, score=9)
    for name in ("campaign", "campaignrun", "message", "npssurvey", "template"):
        assert admin_client.get(reverse(f"admin:mailings_{name}_changelist")).status_code == 200, name
    assert admin_client.get(reverse("admin:mailings_campaign_add")).status_code == 200
