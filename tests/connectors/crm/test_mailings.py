"""CRM deals drive mailings, both emulators over HTTP: a deal moved from stage A to stage B
surveys its client (NPS) once, the answer lands in the contact's CRM card field, nobody is
surveyed again within the throttle; a deal-stage notification goes out once per move."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from connectors.crm.port import CrmDeal
from mailings.models import Campaign, Message, NpsSurvey
from tests.helpers import drain_outbox

STAGES = {"amocrm": ("3004", "30040", "30041"), "bitrix24": ("3", "C3:NEW", "C3:PREPARATION")}


def _deal(crm, contact, title):  # type: ignore[no-untyped-def]
    pipeline, first, _ = STAGES[crm.system]
    written = crm.port.upsert_deals([("k", CrmDeal(title=title, pipeline_id=pipeline, stage_id=first,
                                                   contact_external_id=crm.their_id(contact)), "")])
    crm.app.wait_deliveries()
    crm.move_deal(written.ids["k"], pipeline, first)  # the hub sees it in stage A first
    return written.ids["k"]


@pytest.mark.django_db(transaction=True)
def test_a_deal_moved_a_to_b_surveys_its_client_and_the_score_reaches_the_crm_card(crm, live_server, client,
                                                                                    email_channel, person, campaign):
    pipeline, first, done = STAGES[crm.system]
    nps_field = crm.add_contact_field("NPS")
    crm.connection.refresh_from_db()
    crm.connection.settings["fields"] = {**crm.connection.settings.get("fields", {}), "nps": str(nps_field)}
    crm.connection.save()
    survey_campaign = campaign(Campaign.Kind.NPS, "Оцените нас от 0 до 10: {{ nps_link }}",
                               crm_connection=crm.connection, from_pipeline=pipeline, from_stage=first,
                               to_pipeline=pipeline, to_stage=done,
                               cooldown_days=90, marketing=False)
    crm.hook_to(live_server)
    anna = person("Анна")
    drain_outbox()
    deal = _deal(crm, anna, "Праздник")
    second = _deal(crm, anna, "Ещё праздник")

    crm.move_deal(deal, pipeline, done)
    crm.move_deal(deal, pipeline, done)  # the same move reported again
    crm.move_deal(second, pipeline, done)  # another deal of the same client: within the throttle
    survey = NpsSurvey.objects.get()
    assert (survey.contact, survey.campaign, survey.deal_id) == (anna, survey_campaign, deal)
    drain_outbox()
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    assert link.endswith(f"/m/nps/{survey.token}/")

    page = client.get(f"/m/nps/{survey.token}/")
    assert page.status_code == 200 and "от 0" in page.content.decode()
    assert client.post(f"/m/nps/{survey.token}/", {"score": "11"}).status_code == 400
    answer = client.post(f"/m/nps/{survey.token}/", {"score": "9", "comment": "Аниматор супер"})
    assert answer.status_code == 200 and "9 из 10" in answer.content.decode()
    drain_outbox()
    card = crm.card_text(crm.their_id(anna), nps_field)
    assert card.startswith("9 из 10, ") and card.endswith(": Аниматор супер")


@pytest.mark.django_db(transaction=True)
def test_a_deal_stage_notification_goes_out_once_per_move(crm, live_server, email_channel, person, campaign):
    pipeline, _, done = STAGES[crm.system]
    campaign(Campaign.Kind.TRIGGER, "{{ first_name }}, заказ «{{ deal_title }}» готов", trigger="deal_stage",
             crm_connection=crm.connection, to_pipeline=pipeline, to_stage=done, marketing=False)
    crm.hook_to(live_server)
    oleg = person("Олег")
    drain_outbox()
    deal = _deal(crm, oleg, "Торт на заказ")
    crm.move_deal(deal, pipeline, done)
    crm.move_deal(deal, pipeline, done)
    drain_outbox()
    assert [m.body for m in mail.outbox] == ["Олег, заказ «Торт на заказ» готов"]
    assert Message.objects.get().status == Message.Status.SENT
