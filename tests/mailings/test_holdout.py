"""A campaign's control group: the clients ``offer_group`` holds back get no message and no
campaign bonus, and are recorded as the control group; those messaged are recorded as
offered; each client once, at the first time, however often the campaign runs. Service
notifications and NPS surveys are never held back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from hub.models import Contact
from loyalty.models import Entry, OfferExposure
from loyalty.selectors import balance_for
from loyalty.services.offers import offer_group
from mailings.models import Campaign, Message
from mailings.services.campaigns import campaign_run
from mailings.services.outgoing import Recipient, messages_queue
from tests.helpers import drain_outbox

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)  # 10:00 in Moscow
CONTROL, OFFERED = OfferExposure.Group.CONTROL, OfferExposure.Group.OFFERED


def side(campaign: Campaign, contact: Contact) -> str:
    return offer_group(OfferExposure.Offer.CAMPAIGN, campaign.pk, contact.pk, campaign.holdout_percent)


def exposures(campaign: Campaign) -> dict[int, tuple[str, dt.datetime]]:
    rows = OfferExposure.objects.filter(offer=OfferExposure.Offer.CAMPAIGN, offer_id=campaign.pk)
    return {row.contact_id: (row.group, row.at) for row in rows}


def people_on_both_sides(campaign: Campaign, make: Callable[[], Contact], each: int = 2) -> list[Contact]:
    """Clients made until at least ``each`` are on either side (sides depend on the ids)."""
    people: list[Contact] = []
    while min(sum(side(campaign, p) == s for p in people) for s in (CONTROL, OFFERED)) < each:
        people.append(make())
        assert len(people) < 200
    return people


def test_the_control_group_of_a_mailing_gets_no_message_and_is_recorded_once(email_channel, person, campaign):
    mailing = campaign(Campaign.Kind.SEGMENT, "Привет, {{ first_name }}!", holdout_percent=30)
    people = [person(f"Клиент {n}") for n in range(60)]
    control = {p.pk for p in people if side(mailing, p) == CONTROL}
    assert 6 <= len(control) <= 36  # about 30 % of 60
    run = campaign_run(mailing, key="confirmed-1", now=NOW)
    messaged = set(Message.objects.values_list("contact_id", flat=True))
    assert messaged == {p.pk for p in people} - control
    assert (run.selected, run.queued, run.unreachable) == (60, 60 - len(control), 0)
    assert exposures(mailing) == {p.pk: (CONTROL if p.pk in control else OFFERED, NOW) for p in people}
    assert drain_outbox() == 60 - len(control)
    assert len(mail.outbox) == 60 - len(control)

    later = NOW + dt.timedelta(days=1)
    campaign_run(mailing, key="confirmed-1", now=later)  # the same confirmation again
    assert Message.objects.count() == 60 - len(control)
    campaign_run(mailing, key="confirmed-2", now=later)  # a new send: the same clients held back
    assert set(Message.objects.exclude(run__key="confirmed-1").values_list("contact_id", flat=True)) == messaged
    assert OfferExposure.objects.count() == 60
    assert exposures(mailing) == {p.pk: (CONTROL if p.pk in control else OFFERED, NOW) for p in people}


@pytest.mark.parametrize("holdout", [0, 50])
def test_a_birthday_bonus_goes_only_to_the_clients_messaged(email_channel, person, campaign, holdout):
    birthday = campaign(Campaign.Kind.BIRTHDAY, "С днём рождения! +{{ bonus_points }}", bonus_points=Decimal(100),
                        holdout_percent=holdout)
    if holdout:
        people = people_on_both_sides(birthday, lambda: person("Именинник", birth_date=dt.date(1990, 11, 24)))
    else:
        people = [person("Именинник", birth_date=dt.date(1990, 11, 24)) for _ in range(3)]
    control = [p for p in people if side(birthday, p) == CONTROL]
    assert bool(control) == bool(holdout)
    campaign_run(birthday, now=NOW)
    campaign_run(birthday, now=NOW + dt.timedelta(hours=5))
    for p in people:
        held = p in control
        assert Message.objects.filter(contact=p).count() == (0 if held else 1)
        assert balance_for(p).total == (0 if held else Decimal(100))
        assert Entry.objects.filter(account__contact=p).count() == (0 if held else 1)
        assert exposures(birthday)[p.pk] == (CONTROL if held else OFFERED, NOW)


def test_event_notifications_hold_back_the_same_clients_every_time(email_channel, person, campaign):
    points = campaign(Campaign.Kind.TRIGGER, "+{{ bonus_points }}", trigger=Campaign.Trigger.BONUS_ACCRUED,
                      holdout_percent=50)
    people = people_on_both_sides(points, lambda: person("Анна"))
    for entry in range(3):
        queued = messages_queue(points, [Recipient(p.pk, f"trigger:{points.pk}:entry:{entry}:{p.pk}",
                                                   {"bonus_points": 5}) for p in people],
                                now=NOW + dt.timedelta(hours=entry))
        assert sorted(queued.held_back) == sorted(p.pk for p in people if side(points, p) == CONTROL)
    for p in people:
        held = side(points, p) == CONTROL
        assert Message.objects.filter(contact=p).count() == (0 if held else 3)
        assert exposures(points)[p.pk] == (CONTROL if held else OFFERED, NOW)  # the first time only
    assert OfferExposure.objects.count() == len(people)


def test_a_held_back_parent_takes_the_key_the_other_parent_gets_nothing_either(email_channel, person, campaign):
    birthday = campaign(Campaign.Kind.BIRTHDAY, holdout_percent=50)
    parents = people_on_both_sides(birthday, lambda: person("Родитель"), each=1)
    mum = next(p for p in parents if side(birthday, p) == CONTROL)
    dad = next(p for p in parents if side(birthday, p) == OFFERED)
    key = f"birthday:{birthday.pk}:children-of:{mum.pk}:2026-11-24"
    queued = messages_queue(birthday, [Recipient(mum.pk, key), Recipient(dad.pk, key)], now=NOW)
    assert (queued.messages, queued.held_back, queued.unreachable) == ([], [mum.pk], 0)
    assert exposures(birthday) == {mum.pk: (CONTROL, NOW)}


def test_service_notifications_and_surveys_have_no_control_group(email_channel, person, campaign):
    for fields in ({"kind": Campaign.Kind.TRIGGER, "trigger": Campaign.Trigger.BOOKING_CONFIRMED, "marketing": False},
                   {"kind": Campaign.Kind.BIRTHDAY, "marketing": False}, {"kind": Campaign.Kind.NPS}):
        with pytest.raises(ValidationError) as error:
            campaign(fields.pop("kind"), holdout_percent=20, **fields)
        assert "служебные уведомления" in error.value.message_dict["holdout_percent"][0]
    with pytest.raises(ValidationError) as error:
        campaign(Campaign.Kind.BIRTHDAY, holdout_percent=100)
    assert "меньше 100" in error.value.message_dict["holdout_percent"][0]
    service = campaign(Campaign.Kind.TRIGGER, trigger=Campaign.Trigger.BOOKING_CONFIRMED, marketing=False)
    Campaign.objects.filter(pk=service.pk).update(holdout_percent=90)  # set behind the form's back
    service.refresh_from_db()
    people = [person("Анна") for _ in range(5)]
    queued = messages_queue(service, [Recipient(p.pk, f"booking:{p.pk}") for p in people], now=NOW)
    assert len(queued.messages) == 5 and queued.held_back == []
    assert OfferExposure.objects.count() == 0  # a notification is not an offer to measure
