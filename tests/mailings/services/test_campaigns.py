"""Campaign runs with frozen time: birthdays (own and children's, year boundary, 29 February),
lapsed clients with a cool-down, segments, the optional bonus, consent; a second run of the
same occasion sends nothing new."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.models import Outbox, Tag
from hub.models.consent import ConsentRecord, Purpose
from hub.services.consent import consent_withdraw
from loyalty.models import Entry
from loyalty.selectors import balance_for
from mailings.models import Campaign, Message
from mailings.services.campaigns import campaign_preview, campaign_run
from tests.helpers import drain_outbox

MSK = dt.timezone(dt.timedelta(hours=3))
pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=MSK)


def recipients(run) -> set[int]:  # type: ignore[no-untyped-def]
    return set(Message.objects.filter(run=run).values_list("contact_id", flat=True))


def test_birthday_picks_exactly_the_clients_born_that_day_in_the_venues_time_zone(email_channel, person, campaign):
    today = person("Сегодня", birth_date=dt.date(1990, 11, 24))
    person("Завтра", birth_date=dt.date(1990, 11, 25))
    person("Вчера", birth_date=dt.date(1990, 11, 23))
    person("Без даты")
    birthday = campaign(Campaign.Kind.BIRTHDAY, "С днём рождения, {{ first_name }}!")
    # 23:30 UTC on the 23rd is already the 24th in Moscow
    run = campaign_run(birthday, now=dt.datetime(2026, 11, 23, 21, 30, tzinfo=dt.UTC))
    assert recipients(run) == {today.pk}
    assert run.key == "2026-11-24" and run.queued == 1
    assert drain_outbox() == 1
    assert [m.body for m in mail.outbox] == ["С днём рождения, Сегодня!"]
    assert Message.objects.get(run=run).status == Message.Status.SENT


def test_children_birthdays_message_the_parent_days_before_across_the_year_boundary(email_channel, person, campaign):
    parent = person("Мама")
    other = person("Папа")
    person("Петя", birth_date=dt.date(2019, 1, 2), category="child", parent=parent, email=None)
    person("Вася", birth_date=dt.date(2019, 1, 3), category="child", parent=other, email=None)
    birthday = campaign(Campaign.Kind.BIRTHDAY, "{{ first_name }}, скоро {{ child_age }} лет {{ child_name }}!",
                        days_before=3, audience=Campaign.Audience.CHILDREN)
    run = campaign_run(birthday, now=at(2026, 12, 30))
    message = Message.objects.get(run=run)
    assert (message.contact_id, message.text) == (parent.pk, "Мама, скоро 8 лет Петя!")
    assert message.key == f"birthday:{birthday.pk}:children-of:{parent.pk}:2027-01-02"  # the birthday's year


def test_twins_make_one_message_to_their_parent_and_each_gets_the_bonus(email_channel, person, campaign):
    mum = person("Мама")
    twins = [person(name, birth_date=dt.date(2020, 11, 24), category="child", parent=mum, email=None)
             for name in ("Петя", "Маша")]
    birthday = campaign(Campaign.Kind.BIRTHDAY, "{{ child_name }}: {{ child_age }}", bonus_points=Decimal(100),
                        audience=Campaign.Audience.CHILDREN)
    run = campaign_run(birthday, now=at(2026, 11, 24))
    assert [m.text for m in Message.objects.filter(run=run)] == ["Маша и Петя: 6"]
    assert [balance_for(kid).total for kid in twins] == [Decimal(100), Decimal(100)]
    assert balance_for(mum).total == 0


def test_born_on_29_february_are_greeted_on_28_february_in_common_years_once(email_channel, person, campaign):
    leap = person("Високосный", birth_date=dt.date(2000, 2, 29))
    birthday = campaign(Campaign.Kind.BIRTHDAY)
    assert recipients(campaign_run(birthday, now=at(2027, 2, 28))) == {leap.pk}
    assert recipients(campaign_run(birthday, now=at(2027, 3, 1))) == set()
    assert recipients(campaign_run(birthday, now=at(2028, 2, 28))) == set()  # leap year: their own day
    assert recipients(campaign_run(birthday, now=at(2028, 2, 29))) == {leap.pk}


def test_a_second_run_the_same_day_sends_nothing_new_and_next_year_greets_again(email_channel, person, campaign):
    person("Аня", birth_date=dt.date(1990, 11, 24))
    birthday = campaign(Campaign.Kind.BIRTHDAY)
    first = campaign_run(birthday, now=at(2026, 11, 24, 10))
    again = campaign_run(birthday, now=at(2026, 11, 24, 15))
    assert again.pk == first.pk and again.queued == 1
    assert Message.objects.count() == 1 and Outbox.objects.count() == 1
    assert campaign_run(birthday, now=at(2027, 11, 24)).queued == 1


def test_birthday_bonus_goes_to_the_birthday_person_once_and_the_text_says_how_many(email_channel, person, campaign):
    client = person("Аня", birth_date=dt.date(1990, 11, 24))
    birthday = campaign(Campaign.Kind.BIRTHDAY, "{{ bonus_points|plural:\"балл,балла,баллов\" }}, баланс "
                        "{{ bonus_balance|plural:\"балл,балла,баллов\" }}", bonus_points=Decimal(500),
                        bonus_expiry_days=30)
    campaign_run(birthday, now=at(2026, 11, 24))
    campaign_run(birthday, now=at(2026, 11, 24))
    assert balance_for(client).total == Decimal(500)
    assert Entry.objects.get(account__contact=client).source == Entry.Source.BIRTHDAY
    assert Message.objects.get().text == "500 баллов, баланс 500 баллов"


def test_only_clients_with_marketing_consent_for_the_channel_are_picked(email_channel, person, campaign):
    web = person("С согласием", birth_date=dt.date(1990, 11, 24))
    person("Без согласия", birth_date=dt.date(1990, 11, 24), consent=None)
    person("Согласие в Telegram", birth_date=dt.date(1990, 11, 24), consent=ConsentRecord.Channel.TELEGRAM)
    withdrawn = person("Отписался", birth_date=dt.date(1990, 11, 24))
    consent_withdraw(purpose=Purpose.MARKETING, channel=ConsentRecord.Channel.WEB, contact=withdrawn)
    run = campaign_run(campaign(Campaign.Kind.BIRTHDAY), now=at(2026, 11, 24))
    assert recipients(run) == {web.pk}
    assert (run.selected, run.unreachable) == (4, 3)


def test_lapsed_clients_are_messaged_once_per_cool_down(email_channel, person, campaign):
    now = at(2026, 11, 24)
    lapsed = person("Давно", last_pass_at=now - dt.timedelta(days=100))
    person("Недавно", last_pass_at=now - dt.timedelta(days=10))
    person("Никогда не был")
    bought = person("Только покупал", last_purchase_at=now - dt.timedelta(days=100))
    winback = campaign(Campaign.Kind.LAPSED, "Не были {{ days_since_visit }} дней", lapsed_days=60, cooldown_days=30,
                       bonus_points=Decimal(100))
    with mock.patch("django.utils.timezone.now", return_value=now):
        run = campaign_run(winback, now=now)
    assert recipients(run) == {lapsed.pk}
    assert Message.objects.get(run=run).text == "Не были 100 дней"
    assert balance_for(lapsed).total == Decimal(100)
    later = now + dt.timedelta(days=10)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert campaign_run(winback, now=later).queued == 0  # cool-down
    after = now + dt.timedelta(days=31)
    with mock.patch("django.utils.timezone.now", return_value=after):
        assert recipients(campaign_run(winback, now=after)) == {lapsed.pk}
    assert balance_for(lapsed).total == Decimal(200)
    by_purchase = campaign(Campaign.Kind.LAPSED, lapsed_days=60, inactivity=Campaign.Inactivity.PURCHASE)
    assert recipients(campaign_run(by_purchase, now=now)) == {bought.pk}


def test_a_client_nobody_can_reach_gets_no_win_back_bonus(email_channel, person, campaign):
    now = at(2026, 11, 24)
    silent = person("Без согласия", consent=None, last_pass_at=now - dt.timedelta(days=100))
    winback = campaign(Campaign.Kind.LAPSED, lapsed_days=60, bonus_points=Decimal(100))
    for day in range(3):
        assert campaign_run(winback, now=now + dt.timedelta(days=day)).unreachable == 1
    assert balance_for(silent).total == 0


def test_segment_preview_counts_and_samples_then_a_confirmed_send_is_idempotent(email_channel, person, campaign):
    vip = Tag.objects.create(name="VIP")
    chosen = [person(f"VIP {i}") for i in range(3)]
    for contact in chosen:
        contact.tags.add(vip)
    person("Обычный")
    mailing = campaign(Campaign.Kind.SEGMENT, rules={"tags": ["VIP"]})
    count, sample = campaign_preview(mailing, sample=2)
    assert count == 3 and [c.pk for c in sample] == [chosen[0].pk, chosen[1].pk]
    run = campaign_run(mailing, key="preview-token-1")
    assert recipients(run) == {c.pk for c in chosen}
    assert campaign_run(mailing, key="preview-token-1").queued == 3  # the same confirmation twice
    assert Message.objects.count() == 3


def test_event_campaigns_do_not_run_on_a_schedule_and_incomplete_ones_say_why(email_channel, campaign):
    with pytest.raises(ValidationError, match="событиями"):
        campaign_run(campaign(Campaign.Kind.TRIGGER, trigger=Campaign.Trigger.BONUS_ACCRUED))
    with pytest.raises(ValidationError) as error:
        campaign(Campaign.Kind.LAPSED)
    assert "lapsed_days" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        campaign(Campaign.Kind.BIRTHDAY, channels=())
    assert "channels" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        campaign(Campaign.Kind.TRIGGER, trigger=Campaign.Trigger.BONUS_ACCRUED, time_zone="Europe/Moskow")
    assert "Moskow" in error.value.message_dict["time_zone"][0]


def test_now_is_used_when_no_time_is_given(email_channel, person, campaign):
    today = timezone.localdate()
    client = person("Сегодня", birth_date=today.replace(year=1990) if (today.month, today.day) != (2, 29)
                    else dt.date(1992, 2, 29))
    assert recipients(campaign_run(campaign(Campaign.Kind.BIRTHDAY))) == {client.pk}
