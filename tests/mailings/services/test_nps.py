"""NPS answers by every route: a bot button, a bare number in an SMS/WhatsApp reply, then a
comment; the throttle; bad scores refused with a reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hub.models import Connection
from hub.services.deals import CrmDealView
from mailings.models import Campaign, Message, NpsSurvey
from mailings.services.delivery import message_incoming
from mailings.services.nps import THANKS, THANKS_COMMENT, nps_answer, nps_ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def crm(db: None) -> Connection:
    return Connection.objects.create(name="CRM", system="amocrm")


def _ask(campaign, person, crm, deal_id="1"):  # type: ignore[no-untyped-def]
    nps = campaign(Campaign.Kind.NPS, "Оцените нас: {{ nps_link }}", crm_connection=crm, to_stage="won",
                   cooldown_days=90)
    anna = person("Анна", phone="+79160000001")
    return anna, nps_ask(nps, anna, crm, CrmDealView(id=deal_id, pipeline_id="p", stage_id="won"))


def test_a_bot_button_answers_and_the_next_text_is_the_comment(campaign, person, crm, email_channel):
    _, survey = _ask(campaign, person, crm)
    message = Message.objects.get()
    assert message.buttons == []  # e-mail has no buttons; the link is in the text
    assert survey.token in message.text
    outcome = message_incoming(email_channel, "telegram", address_kind="phone", address="+79160000001", text="",
                               data=f"nps:{survey.token}:8", provider_id="cb-1")
    assert outcome["nps"]
    message_incoming(email_channel, "telegram", address_kind="phone", address="+79160000001",
                     text="Было весело", provider_id="m-2")
    survey.refresh_from_db()
    assert (survey.score, survey.comment, survey.answer_channel) == (8, "Было весело", "telegram")
    assert list(Message.objects.filter(campaign=None).order_by("pk").values_list("text", flat=True)) == [
        THANKS, THANKS_COMMENT]


def test_a_bare_number_in_an_sms_reply_answers_the_open_survey(campaign, person, crm, email_channel):
    _, survey = _ask(campaign, person, crm)
    message_incoming(email_channel, "sms", address_kind="phone", address="+7 916 000-00-01", text=" 10 ",
                     provider_id="s-1")
    survey.refresh_from_db()
    assert survey.score == 10 and survey.answer_channel == "sms"
    message_incoming(email_channel, "sms", address_kind="phone", address="+79160000002", text="5", provider_id="s-2")
    assert NpsSurvey.objects.filter(score=5).count() == 0  # a stranger's number answers nothing


def test_nobody_is_surveyed_again_within_the_throttle(campaign, person, crm, email_channel):
    anna, first = _ask(campaign, person, crm, deal_id="1")
    nps = first.campaign
    assert nps_ask(nps, anna, crm, CrmDealView(id="2", pipeline_id="p", stage_id="won")) is None
    assert NpsSurvey.objects.count() == 1


def test_scores_outside_0_to_10_are_refused_with_a_reason(campaign, person, crm, email_channel):
    _, survey = _ask(campaign, person, crm)
    for bad in (11, -1, "десять"):
        with pytest.raises(ValidationError, match="от 0 до 10"):
            nps_answer(survey, bad, channel="link")
    with pytest.raises(ValidationError, match="недопустимые"):
        nps_answer(survey, 5, "a\x00b", channel="link")
    with pytest.raises(ValidationError, match="Поставьте оценку"):
        nps_answer(survey, None, "без оценки", channel="link")
