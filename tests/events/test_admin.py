"""The events' admin lists open (with a picture stored, without loading it per row), and
"Send to the site again" queues even an item the site already holds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from events.models import EventDate, EventSetup, EventTemplate, TicketSale
from hub.models import Connection, Outbox
from hub.services.external_refs import external_ref_link, fingerprint
from hub.services.outbox import outbox_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def items():
    crm = Connection.objects.create(system="amocrm", name="CRM")
    site = Connection.objects.create(system="site", name="Сайт")
    setup = EventSetup.objects.create(crm=crm, site=site, template_pipeline_id="10", template_stage_id="12",
                                      events_pipeline_id="20")
    template = EventTemplate.objects.create(setup=setup, crm_deal_id="1", title="Крыши <b>", image=b"x" * 1000,
                                            sync_state="synced")
    event = EventDate.objects.create(setup=setup, crm_deal_id="2", template=template, title="Крыши 5 декабря",
                                     starts_at=dt.datetime(2026, 12, 5, 15, tzinfo=dt.UTC), sync_state="refused",
                                     sync_error="сайт не принял шаблон")
    external_ref_link(site, "event_template", template.pk, "77")
    TicketSale.objects.create(site=site, order_id="1001", site_event_id="55", event=event, tickets=2,
                              amount=Decimal("3000"), sold_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    return setup, template, event


@pytest.mark.parametrize("model", ["eventsetup", "eventtemplate", "eventdate", "ticketsale"])
def test_every_list_and_page_opens(admin_client, items, model):
    page = admin_client.get(reverse(f"admin:events_{model}_changelist"))
    assert page.status_code == 200
    setup, template, event = items
    obj = {"eventsetup": setup, "eventtemplate": template, "eventdate": event}.get(model) or TicketSale.objects.get()
    assert admin_client.get(reverse(f"admin:events_{model}_change", args=[obj.pk])).status_code == 200


def test_the_report_is_one_click_from_the_sales_and_the_dates(admin_client, items):
    for model in ("ticketsale", "eventdate"):
        page = admin_client.get(reverse(f"admin:events_{model}_changelist")).content.decode()
        assert f'href="{reverse("events_report")}"' in page


def test_lists_show_the_state_and_escape_what_came_from_the_crm(admin_client, items):
    page = admin_client.get(reverse("admin:events_eventtemplate_changelist")).content.decode()
    assert "Крыши &lt;b&gt;" in page and ">77<" in page
    dates = admin_client.get(reverse("admin:events_eventdate_changelist")).content.decode()
    assert "сайт не принял шаблон" in dates


def test_send_again_queues_what_the_site_already_holds(admin_client, items):
    _setup, template, event = items
    payload = {"title": template.title, "description_html": "", "image_url": ""}
    outbox_publish("event_template.upsert", "event_template", template.pk, payload)
    Outbox.objects.update(status=Outbox.Status.SENT)
    external_ref_link(template.setup.site, "event_template", template.pk, "77", digest=fingerprint(payload))
    admin_client.post(reverse("admin:events_eventtemplate_changelist"),
                      {"action": "send_again", "_selected_action": [template.pk]})
    assert Outbox.objects.filter(action="event_template.upsert", status="pending").count() == 1
    admin_client.post(reverse("admin:events_eventdate_changelist"),
                      {"action": "send_again", "_selected_action": [event.pk]})
    assert Outbox.objects.filter(action="event_date.upsert", status="pending").count() == 1
