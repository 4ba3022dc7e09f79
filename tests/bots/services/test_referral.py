"""Invitations in the bot: a friend who opens the bot with a referral link is registered as
the friend once the bot knows who they are; the menu gives a client their own link."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache

from bots.models import BotChat
from bots.services.referral import _key
from hub.models import Contact
from hub.services.connections import connection_upsert
from loyalty.models import Entry, Referral, ReferralProgram
from loyalty.services.ledger import program_default
from loyalty.services.referrals import referral_code_for
from tests.bots.services.test_conversation import PHONE, Client, buttons, consents, register

pytestmark = pytest.mark.django_db
MENU = ["menu:balance", "menu:bookings", "menu:manager", "menu:info"]


@pytest.fixture
def bot(consent_texts):
    connection, _ = connection_upsert(name="Бот", system="telegram", base_url="http://127.0.0.1:9",
                                      credentials={"token": "1:x"})
    return connection


@pytest.fixture
def invitations(db):
    return ReferralProgram.objects.create(program=program_default(), trigger="registration",
                                          referrer_points=Decimal(100), friend_points=Decimal(50),
                                          link_template="https://t.me/our_bot?start=ref_{code}")


@pytest.fixture
def boris(db):
    return Contact.objects.create(first_name="Борис", phone="+79990000001")


def test_a_friend_from_a_link_is_registered_after_the_phone_step(bot, invitations, boris,
                                                                 django_capture_on_commit_callbacks):
    code = referral_code_for(program_default(), boris).code
    client = Client(bot)
    consents(client, first=f"/start ref_{code.lower()}")
    assert not Referral.objects.exists()  # nobody to register yet
    with django_capture_on_commit_callbacks() as after_commit:
        assert client.shares(PHONE) == BotChat.State.MENU
    chat = BotChat.objects.get()
    assert cache.get(_key(chat)) == code
    for callback in after_commit:
        callback()
    assert cache.get(_key(chat)) is None  # used: forgotten once the turn is committed
    friend = Contact.objects.get(phone=PHONE)
    referral = Referral.objects.get()
    assert (referral.referrer, referral.friend, referral.code, referral.device, referral.status) == (
        boris, friend, code, f"telegram:{client.user_id}", "rewarded")
    assert sorted(Entry.objects.values_list("account__contact", "points")) == sorted(
        [(boris.pk, Decimal(100)), (friend.pk, Decimal(50))])
    client.writes("/start")  # the code was used: nothing more happens
    assert Referral.objects.count() == 1 and Entry.objects.count() == 2


def test_a_known_client_opening_a_link_is_registered_at_once(bot, invitations, boris):
    client = Client(bot)
    register(client)
    client.writes(f"/start ref_{referral_code_for(program_default(), boris).code}")
    assert Referral.objects.get().friend == Contact.objects.get(phone=PHONE)


def test_a_link_with_an_unknown_code_does_not_stop_registration(bot, invitations):
    client = Client(bot)
    consents(client, first="/start ref_ZZZZZZZZ")
    assert client.shares(PHONE) == BotChat.State.MENU
    assert not Referral.objects.exists()


def test_the_menu_offers_the_client_s_own_link_while_invitations_run(bot, invitations):
    client = Client(bot)
    register(client)
    assert buttons(client.last()) == [*MENU, "menu:invite"]
    client.presses("menu:invite")
    code = referral_code_for(program_default(), Contact.objects.get(phone=PHONE)).code
    text = client.last().text
    assert f"https://t.me/our_bot?start=ref_{code}" in text
    assert "Друг получит 50 баллов" in text and "Вы получите 100 баллов." in text
    client.writes("/invite")
    assert client.last().text == text
    invitations.active = False
    invitations.save()
    client.writes("/start")
    assert buttons(client.last()) == MENU
