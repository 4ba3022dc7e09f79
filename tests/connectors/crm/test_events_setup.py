"""The operator's "Events on the site" page for a CRM connection: asks to load pipelines
first, then saves stages, fields (making the missing ones in the CRM) and what each stage of
the events pipeline releases; bad choices are told, not 500s; only permitted staff see it."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from connectors.crm.setup import crm_catalog_load
from events.models import EventSetup
from hub.models import Connection
from hub.services.connections import connection_upsert

pytestmark = pytest.mark.django_db


def _stages(crm):
    if crm.system == "amocrm":
        return {"publish": "3005|30052", "events": "3006", "agreed": "3006|30061", "admin": "3006|30062"}
    return {"publish": "4|C4:EXECUTING", "events": "5", "agreed": "5|C5:PREPARATION", "admin": "5|C5:EXECUTING"}


@pytest.fixture
def site(db):
    connection, _ = connection_upsert(name="Сайт", system="site", base_url="http://127.0.0.1:9",
                                      credentials={"secret": "s"})
    return connection


def test_the_operator_sets_up_events_with_missing_fields_made_in_the_crm(admin_client, crm, site):
    url = reverse("events_setup", args=[crm.connection.pk])
    assert "загрузите воронки" in admin_client.get(url).content.decode()
    crm_catalog_load(crm.connection)
    page = admin_client.get(url).content.decode()
    assert "Этап публикации анонса" in page and "Даты согласованы со спикером" in page
    s = _stages(crm)
    response = admin_client.post(url, {
        "enabled": "on", "site": site.pk, "template_stage": s["publish"], "events_pipeline_id": s["events"],
        "max_image_kb": "2048", "create_missing": "on",
        f"push_{s['agreed']}": ["starts_at", "speaker"], f"push_{s['admin']}": ["host"]}, follow=True)
    assert "Настройка мероприятий сохранена" in response.content.decode()
    setup = EventSetup.objects.get(crm=crm.connection)
    assert setup.site == site and setup.max_image_kb == 2048 and setup.events_pipeline_id == s["events"]
    assert set(setup.event_fields) >= {"idea_deal", "template_id", "starts_at", "speaker", "host", "sync_state"}
    assert "time" not in setup.event_fields  # optional: a date field with time needs no separate one
    assert setup.ticket_fields["event_deal"]
    made = {f.id for f in crm.port.list_fields("deal")}
    assert set(setup.template_fields.values()) | set(setup.event_fields.values()) <= made
    assert {p.stage_id: p.roles for p in setup.stage_pushes.all()} == {
        s["agreed"].split("|")[1]: ["starts_at", "speaker"], s["admin"].split("|")[1]: ["host"]}
    # Saved again without "create": the same fields are kept, nothing is made twice.
    page = admin_client.get(url).content.decode()
    assert f'value="{setup.event_fields["speaker"]}" selected' in page
    count = len(made)
    data = {"enabled": "on", "site": site.pk, "template_stage": s["publish"], "events_pipeline_id": s["events"],
            "max_image_kb": "2048", f"push_{s['admin']}": ["host", "speaker"]}
    data.update({f"t_{r}": v for r, v in setup.template_fields.items()})
    data.update({f"e_{r}": v for r, v in setup.event_fields.items()})
    data.update({f"s_{r}": v for r, v in setup.ticket_fields.items()})
    admin_client.post(url, data)
    assert len(crm.port.list_fields("deal")) == count
    assert {p.stage_id: p.roles for p in EventSetup.objects.get().stage_pushes.all()} == {
        s["admin"].split("|")[1]: ["host", "speaker"]}


def test_a_wrong_set_up_is_told_and_not_saved(admin_client, amo, site):
    crm_catalog_load(amo)
    url = reverse("events_setup", args=[amo.pk])
    same = admin_client.post(url, {"site": site.pk, "template_stage": "3005|30052", "events_pipeline_id": "3005",
                                   "max_image_kb": "100", "e_idea_deal": ""}, follow=True).content.decode()
    assert "Не сохранено" in same and not EventSetup.objects.exists()
    bogus = admin_client.post(url, {"site": site.pk, "template_stage": "999|1", "events_pipeline_id": "3006",
                                    "max_image_kb": "100"})
    assert bogus.status_code == 200 and not EventSetup.objects.exists()


def test_only_staff_allowed_to_change_the_set_up_see_it(client, amo):
    url = reverse("events_setup", args=[amo.pk])
    assert client.get(url).status_code == 302  # to the login
    User.objects.create_user("clerk", password="pw", is_staff=True)
    client.login(username="clerk", password="pw")
    assert client.get(url).status_code == 403
    lime = Connection.objects.create(system="lime", name="Лайм")
    User.objects.create_superuser("root", password="pw")
    client.login(username="root", password="pw")
    assert client.get(reverse("events_setup", args=[lime.pk])).status_code == 404
