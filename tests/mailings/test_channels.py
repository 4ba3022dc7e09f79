"""Mailings against every provider's emulator over real HTTP: a campaign's message reaches the
provider once, its delivery report updates the status, a failure falls back to the next
channel, 5xx and 429 are retried without a second send, STOP and NPS answers come back
through the provider, quiet hours hold the send."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from hub.models import Contact
from hub.models.consent import Purpose
from hub.services.consent import consent_is_active
from hub.services.deals import CrmDealView
from mailings.models import Campaign, Message, NpsSurvey
from mailings.services.delivery import STOPPED_TEXT
from mailings.services.nps import nps_ask
from tests.channel_side import ChannelSide
from tests.channel_sides import SIDES, channel_side
from tests.helpers import drain_outbox

PHONE = "+79161234567"
USER_ID = "700100200"


def _sides(feature: str = "") -> list[str]:
    return sorted(s for s, (side_class, _) in SIDES.items() if not feature or getattr(side_class, feature))


@pytest.fixture(params=_sides())
def side(request: pytest.FixtureRequest, db: None) -> Iterator[ChannelSide]:
    with channel_side(request.param) as running:
        yield running


@pytest.fixture(params=_sides("statuses"))
def reporting_side(request: pytest.FixtureRequest, db: None) -> Iterator[ChannelSide]:
    """Providers that report delivery."""
    with channel_side(request.param) as running:
        yield running


@pytest.fixture(params=_sides("replies"))
def replying_side(request: pytest.FixtureRequest, db: None) -> Iterator[ChannelSide]:
    """Providers that pass clients' replies on."""
    with channel_side(request.param) as running:
        yield running


def _address(side: ChannelSide) -> str:
    return USER_ID if side.channel in ("telegram", "vk") else PHONE


def _client(side: ChannelSide, person) -> Contact:  # type: ignore[no-untyped-def]
    messengers = {side.channel: USER_ID} if side.channel in ("telegram", "vk") else {}
    return person("Анна", phone=PHONE, messengers=messengers, birth_date=dt.date(1990, 11, 24))


def _birthday(campaign, side: ChannelSide, **fields) -> Campaign:  # type: ignore[no-untyped-def]
    return campaign(Campaign.Kind.BIRTHDAY, "{{ first_name }}, с днём рождения!", channels=(side.channel, "email"),
                    **fields)


def _run(birthday: Campaign) -> None:
    from mailings.services.campaigns import campaign_run

    campaign_run(birthday, now=dt.datetime(2026, 11, 24, 10, tzinfo=dt.timezone(dt.timedelta(hours=3))))


@pytest.mark.django_db(transaction=True)
def test_a_message_reaches_the_provider_once_and_its_delivery_report_updates_it(side, live_server, person, campaign,
                                                                               email_channel):
    side.hook_to(live_server)
    _client(side, person)
    _run(_birthday(campaign, side))
    drain_outbox()
    sent = side.sent()
    assert [(m["to"], m["text"]) for m in sent] == [(_address(side), "Анна, с днём рождения!")]
    message = Message.objects.get()
    assert (message.channel, message.status, message.provider_id) == (side.channel, "sent", str(sent[0]["id"]))
    if side.statuses:
        assert side.deliver(message.provider_id, "delivered") == 200
        assert side.deliver(message.provider_id, "delivered") == 200  # reported twice
        message.refresh_from_db()
        assert message.status == Message.Status.DELIVERED and message.delivered_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_falls_back_to_the_next_channel(reporting_side, live_server, person, campaign,
                                                          email_channel):
    side = reporting_side
    side.hook_to(live_server)
    _client(side, person)
    _run(_birthday(campaign, side))
    drain_outbox()
    first = Message.objects.get()
    assert side.deliver(first.provider_id, "failed") == 200
    drain_outbox()
    first.refresh_from_db()
    assert first.status == Message.Status.FAILED and first.error
    follow = Message.objects.get(fallback_of=first)
    assert (follow.channel, follow.status) == ("email", Message.Status.SENT)
    assert [m.body for m in mail.outbox] == ["Анна, с днём рождения!"]


@pytest.mark.django_db(transaction=True)
def test_provider_outages_and_429_are_retried_and_the_message_is_sent_once(side, person, campaign, email_channel):
    _client(side, person)
    _run(_birthday(campaign, side))
    side.fault(faults=[{"status": 503, "times": 1}, {"status": 429, "times": 1, "retry_after": 1}])
    drain_outbox()
    assert side.sent() == [] and Message.objects.get().status == Message.Status.QUEUED
    for minutes in (10, 20, 30):
        with mock.patch("django.utils.timezone.now", return_value=timezone.now() + dt.timedelta(minutes=minutes)):
            drain_outbox()
    assert len(side.sent()) == 1
    message = Message.objects.get()
    assert message.status == Message.Status.SENT and message.attempts >= 2


@pytest.mark.django_db(transaction=True)
def test_quiet_hours_hold_the_send(side, person, campaign, email_channel):
    _client(side, person)
    _run(_birthday(campaign, side, quiet_from=dt.time(0, 0), quiet_to=dt.time(23, 59)))
    drain_outbox()
    assert side.sent() == [] and Message.objects.get().status == Message.Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_stop_from_the_client_withdraws_consent_at_once_and_is_confirmed(replying_side, live_server, person,
                                                                       campaign, email_channel):
    side = replying_side
    side.hook_to(live_server)
    anna = _client(side, person)
    assert side.reply(_address(side), "СТОП") == 200
    assert not consent_is_active(anna, Purpose.MARKETING)
    drain_outbox()
    assert [m["text"] for m in side.sent()] == [STOPPED_TEXT]
    _run(_birthday(campaign, side))
    assert not Message.objects.filter(campaign__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_an_nps_answer_comes_back_through_the_provider(replying_side, live_server, person, campaign, email_channel):
    side = replying_side
    side.hook_to(live_server)
    anna = _client(side, person)
    nps = campaign(Campaign.Kind.NPS, "Оцените нас от 0 до 10: {{ nps_link }}", channels=(side.channel,),
                   crm_connection=email_channel, to_stage="won", marketing=False)
    survey = nps_ask(nps, anna, email_channel, CrmDealView(id="1", pipeline_id="p", stage_id="won"))
    drain_outbox()
    sent = side.sent()[0]
    if side.channel == "telegram":  # VK shows at most 10 buttons: the eleven scores are left out there
        assert f"nps:{survey.token}:9" in sent["buttons"]
        assert side.press(_address(side), f"nps:{survey.token}:9") == 200
    else:
        assert sent["buttons"] == [] and survey.token in sent["text"]
        assert side.reply(_address(side), "9") == 200
    survey.refresh_from_db()
    assert survey.score == 9 and survey.answer_channel == side.channel
    assert side.reply(_address(side), "Аниматоры молодцы") == 200
    assert NpsSurvey.objects.get().comment == "Аниматоры молодцы"
