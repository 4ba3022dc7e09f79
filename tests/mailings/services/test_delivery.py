"""Sending rules at the moment of sending, with frozen time: quiet hours in the venue's time
zone hold a message until they end; consent withdrawn after queueing stops it; delivery
reports never move a status back; STOP withdraws consent at once; failed sends can be sent
again from admin."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from hub.models import Outbox
from hub.models.consent import ConsentRecord, Purpose
from hub.services.consent import consent_is_active, consent_withdraw
from mailings.models import Campaign, Message
from mailings.ports import DELIVERED, FAILED, READ, SENT
from mailings.services.campaigns import campaign_run
from mailings.services.delivery import STOPPED_TEXT, message_incoming, message_status_apply, quiet_wait
from mailings.services.resend import messages_resend
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db
MSK = dt.timezone(dt.timedelta(hours=3))


def test_quiet_hours_are_the_venues_and_may_span_midnight(campaign, email_channel):
    evening = campaign(Campaign.Kind.SEGMENT, quiet_from=dt.time(21), quiet_to=dt.time(9))
    assert quiet_wait(evening, dt.datetime(2026, 11, 24, 20, 59, tzinfo=MSK)) is None
    assert quiet_wait(evening, dt.datetime(2026, 11, 24, 21, 0, tzinfo=MSK)) == 12 * 3600
    assert quiet_wait(evening, dt.datetime(2026, 11, 25, 8, 30, tzinfo=MSK)) == 30 * 60
    assert quiet_wait(evening, dt.datetime(2026, 11, 25, 9, 0, tzinfo=MSK)) is None
    # 19:00 UTC is 22:00 in Moscow
    assert quiet_wait(evening, dt.datetime(2026, 11, 24, 19, 0, tzinfo=dt.UTC)) == 11 * 3600
    lunch = campaign(Campaign.Kind.SEGMENT, quiet_from=dt.time(13), quiet_to=dt.time(14),
                     time_zone="Asia/Yekaterinburg")
    assert quiet_wait(lunch, dt.datetime(2026, 11, 24, 8, 30, tzinfo=dt.UTC)) == 30 * 60  # 13:30 there


def test_a_message_due_in_quiet_hours_waits_until_they_end_without_using_up_attempts(campaign, person,
                                                                                     email_channel):
    person("Анна", birth_date=dt.date(1990, 11, 24))
    birthday = campaign(Campaign.Kind.BIRTHDAY, quiet_from=dt.time(21), quiet_to=dt.time(9))
    late = dt.datetime(2026, 11, 24, 22, 30, tzinfo=MSK)
    with mock.patch("django.utils.timezone.now", return_value=late):
        campaign_run(birthday, now=late)
        drain_outbox()
    row = Outbox.objects.get()
    assert not mail.outbox
    assert (row.status, row.attempts) == (Outbox.Status.FAILED, 0)
    assert timezone.localtime(row.next_attempt_at, dt.timezone(dt.timedelta(hours=3))).time() == dt.time(9)
    morning = dt.datetime(2026, 11, 25, 9, 0, 1, tzinfo=MSK)
    with mock.patch("django.utils.timezone.now", return_value=morning):
        drain_outbox()
    assert len(mail.outbox) == 1 and Message.objects.get().status == Message.Status.SENT


def test_consent_withdrawn_after_queueing_stops_the_message(campaign, person, email_channel):
    anna = person("Анна", birth_date=dt.date(1990, 11, 24))
    campaign_run(campaign(Campaign.Kind.BIRTHDAY), now=dt.datetime(2026, 11, 24, 10, tzinfo=MSK))
    consent_withdraw(purpose=Purpose.MARKETING, channel=ConsentRecord.Channel.WEB, contact=anna)
    drain_outbox()
    message = Message.objects.get()
    assert not mail.outbox
    assert message.status == Message.Status.SKIPPED and "согласия" in message.error
    assert Outbox.objects.get().status == Outbox.Status.SENT  # done with: nothing left to retry


def test_service_messages_need_no_marketing_consent(campaign, person, email_channel):
    person("Без согласия", consent=None, birth_date=dt.date(1990, 11, 24))
    service = campaign(Campaign.Kind.BIRTHDAY, marketing=False)
    assert campaign_run(service, now=dt.datetime(2026, 11, 24, 10, tzinfo=MSK)).queued == 1


def test_delivery_reports_arrive_late_twice_and_out_of_order_and_a_status_never_goes_back(email_channel):
    message = Message.objects.create(key="k1", channel="email", connection=email_channel, address="a@example.com",
                                     text="t", status=Message.Status.SENT, provider_id="p-1")
    message_status_apply(email_channel, "p-1", READ)
    message_status_apply(email_channel, "p-1", DELIVERED)
    message_status_apply(email_channel, "p-1", SENT)
    message_status_apply(email_channel, "p-1", FAILED, "поздний отчёт")
    message.refresh_from_db()
    assert message.status == Message.Status.READ and message.delivered_at is not None and message.error == ""
    with pytest.raises(LookupError):  # our send not recorded yet: the inbox retries the report
        message_status_apply(email_channel, "unknown", DELIVERED)


def test_stop_in_a_reply_withdraws_marketing_consent_at_once_and_confirms(person, email_channel):
    anna = person("Анна", phone="+79160000001")
    outcome = message_incoming(email_channel, "email", address_kind="phone", address="8 (916) 000-00-01",
                               text="Стоп!", provider_id="in-1")
    assert outcome["opted_out"] == 1
    assert not consent_is_active(anna, Purpose.MARKETING)
    reply = Message.objects.get(key=f"reply:{email_channel.pk}:in-1")
    assert reply.text == STOPPED_TEXT and reply.campaign is None
    assert anna.dialog_messages.get().text == "Стоп!"


def test_failed_messages_are_sent_again_from_admin(email_channel):
    message = Message.objects.create(key="k2", channel="email", connection=email_channel, address="a@example.com",
                                     text="Снова", status=Message.Status.FAILED, error="SMTP недоступен")
    assert messages_resend([message.pk]) == 1
    drain_outbox()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT and [m.body for m in mail.outbox] == ["Снова"]


def test_send_again_skips_a_message_that_already_went_out_on_the_next_channel(email_channel):
    first = Message.objects.create(key="k3", channel="sms", connection=email_channel, address="+79160000001",
                                   text="t", status=Message.Status.FAILED)
    Message.objects.create(key="k3>email", channel="email", connection=email_channel, address="a@example.com",
                           text="t", status=Message.Status.SENT, fallback_of=first)
    assert messages_resend([first.pk]) == 0


def test_the_unsubscribe_link_works_after_its_contact_was_merged(client, person, email_channel):
    from hub.services.contacts import contact_merge
    from mailings.services.outgoing import optout_link

    survivor, duplicate = person("Анна"), person("Анна (дубль)")
    link = optout_link(duplicate.pk)
    contact_merge(survivor, duplicate)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert "Отписаться" in client.get(f"/{path}").content.decode()
    assert client.post(f"/{path}").status_code == 200
    assert not consent_is_active(survivor, Purpose.MARKETING)
    assert client.get("/m/unsubscribe/12:forged/").status_code == 404
