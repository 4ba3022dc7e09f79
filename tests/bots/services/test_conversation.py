"""The bot's conversation, channel by channel, at the domain level: what it answers (queued
messages with their buttons), which consents and contacts come of it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from bookings.models import Booking, Reservation, Resource
from bots.models import BotChat, BotText
from bots.services.conversation import BotInput, bot_receive
from hub.models import ClientRequest, ConsentRecord, ConsentText, Contact, ContactIdentity, DialogMessage
from hub.models.consent import Purpose
from hub.services.connections import connection_upsert
from hub.services.consent import consent_text_publish
from hub.services.contacts import ContactData, contact_upsert
from loyalty.services.ledger import ledger_earn
from mailings.models import Message

pytestmark = pytest.mark.django_db
USER = "500000000123"
PHONE = "+79161234567"


@pytest.fixture
def bot(consent_texts):
    connection, _ = connection_upsert(name="Бот", system="telegram", base_url="http://127.0.0.1:9",
                                      credentials={"token": "1:x"})
    return connection


@pytest.fixture
def vk_bot(consent_texts):
    connection, _ = connection_upsert(name="VK бот", system="vk", base_url="http://127.0.0.1:9",
                                      credentials={"access_token": "x"}, settings={"group_id": 1})
    return connection


@pytest.fixture
def sms(db):
    connection, _ = connection_upsert(name="SMS", system="smsru", base_url="http://127.0.0.1:9",
                                      credentials={"api_id": "x"})
    return connection


class Client:
    """A client writing to the bot: each action is one update with a new message id."""

    def __init__(self, connection, user_id: str = USER, first_name: str = "Павел") -> None:
        self.connection, self.user_id, self.first_name = connection, user_id, first_name
        self.n = 0

    def _send(self, **fields) -> str:
        self.n += 1
        event = BotInput(user_id=self.user_id, message_id=str(self.n), first_name=self.first_name, **fields)
        return bot_receive(self.connection, self.connection.system, event)

    def writes(self, text: str) -> str:
        return self._send(text=text)

    def presses(self, data: str) -> str:
        """The button with this data (or this prefix: consent buttons carry the text's id)."""
        shown = [b for m in reversed(self.answers()) for b in buttons(m)]
        return self._send(data=next((b for b in shown if b == data or b.startswith(f"{data}:")), data))

    def shares(self, phone: str, owner: str | None = None) -> str:
        return self._send(phone=phone, phone_user_id=owner or self.user_id)

    def answers(self) -> list[Message]:
        return list(Message.objects.filter(connection=self.connection, address=self.user_id).order_by("pk"))

    def last(self) -> Message:
        return self.answers()[-1]


def buttons(message: Message) -> list[str]:
    return [b["data"] for row in message.buttons for b in row]


def consents(client: Client, marketing: bool = True, first: str = "/start") -> None:
    client.writes(first)
    client.presses("pd:yes")
    client.presses("mk:yes" if marketing else "mk:no")


def register(client: Client, marketing: bool = True) -> None:
    consents(client, marketing)
    client.shares(PHONE)


def test_nothing_happens_before_personal_data_consent(bot):
    client = Client(bot)
    assert client.writes("Привет, сколько у меня бонусов?") == BotChat.State.AWAIT_CONSENT
    document, asked = client.answers()
    assert document.text == "Согласен на обработку ПДн." and "редакция 1" in asked.text
    text_id = ConsentText.objects.get(purpose=Purpose.PERSONAL_DATA).pk
    assert buttons(asked) == [f"pd:yes:{text_id}", "pd:no"]
    client.presses("menu:balance")  # a stale menu button does not get past the consent
    assert buttons(client.last()) == [f"pd:yes:{text_id}", "pd:no"]
    client.presses("pd:no")
    assert "Без согласия" in client.last().text
    assert not Contact.objects.exists() and not ConsentRecord.objects.exists()


def test_consents_are_recorded_separately_with_the_text_version(bot):
    client = Client(bot)
    client.writes("/start")
    assert client.presses("pd:yes") == BotChat.State.AWAIT_MARKETING
    marketing = ConsentText.objects.get(purpose=Purpose.MARKETING)
    assert buttons(client.last()) == [f"mk:yes:{marketing.pk}", "mk:no"]
    assert "Согласен на рассылки." in client.last().text
    record = ConsentRecord.objects.get(purpose=Purpose.PERSONAL_DATA)
    assert (record.subject_kind, record.subject_id, record.channel, record.method) == (
        "telegram", USER, "telegram", ConsentRecord.Method.BUTTON)
    assert record.text_version == "1" and len(record.text_hash) == 64 and record.source["update"] == "2"
    assert client.presses("mk:no") == BotChat.State.AWAIT_PHONE
    assert not ConsentRecord.objects.filter(purpose=Purpose.MARKETING).exists()
    phone_button = client.last().buttons[0][0]
    assert phone_button["request"] == "phone"


def test_a_shared_contact_of_someone_else_is_not_accepted(bot):
    client = Client(bot)
    consents(client)
    assert client.shares("+79990000000", owner="42") == BotChat.State.AWAIT_PHONE
    assert "своим номером" in client.last().text
    assert not Contact.objects.exists()


def test_the_own_phone_registers_a_new_client_with_the_chat_and_consents(bot):
    client = Client(bot)
    register(client)
    contact = Contact.objects.get()
    assert contact.phone == PHONE and contact.first_name == "Павел"
    assert ContactIdentity.objects.filter(contact=contact, kind="telegram", value=USER).exists()
    assert set(ConsentRecord.objects.values_list("contact", flat=True)) == {contact.pk}
    assert ConsentRecord.objects.filter(purpose=Purpose.MARKETING, withdrawn_at__isnull=True).count() == 1
    # the whole conversation, also before registration, now belongs to the client
    assert DialogMessage.objects.filter(contact__isnull=True).count() == 0
    assert DialogMessage.objects.filter(contact=contact, direction="out").count() == len(client.answers())
    welcome = client.last()
    assert "Мы вас узнали" in welcome.text
    assert buttons(welcome) == ["menu:balance", "menu:bookings", "menu:manager", "menu:info"]
    assert BotChat.objects.get().state == BotChat.State.MENU


def test_a_known_client_is_found_by_phone_and_keeps_the_business_s_names(bot):
    known, _ = contact_upsert(ContactData(first_name="Павел", last_name="Сидоров", phones=["8 (916) 123-45-67"]))
    client = Client(bot, first_name="Pasha 🔥")
    register(client)
    assert Contact.objects.count() == 1
    known.refresh_from_db()
    assert (known.first_name, known.last_name) == ("Павел", "Сидоров")
    assert BotChat.objects.get().contact == known


def test_vk_registration_confirms_the_typed_phone_with_an_sms_code(vk_bot, sms):
    client = Client(vk_bot, user_id="777")
    consents(client, marketing=False, first="Начать")
    assert "Напишите ваш номер" in client.last().text
    assert client.writes("мой номер 123") == BotChat.State.AWAIT_PHONE
    assert "Не получилось разобрать" in client.last().text
    assert client.writes("8 916 123-45-67") == BotChat.State.AWAIT_CODE
    sent = Message.objects.get(connection=sms)
    assert sent.address == PHONE
    code = re.search(r"\d{6}", sent.text).group(0)
    wrong = "000000" if code != "000000" else "111111"
    assert client.writes(wrong) == BotChat.State.AWAIT_CODE
    assert "не подошёл" in client.last().text
    assert not Contact.objects.exists()
    assert client.writes(code) == BotChat.State.MENU
    contact = Contact.objects.get()
    assert contact.phone == PHONE
    assert ContactIdentity.objects.filter(contact=contact, kind="vk", value="777").exists()


def test_vk_client_may_give_another_number_while_waiting_for_the_code(vk_bot, sms):
    client = Client(vk_bot, user_id="778")
    consents(client, marketing=False, first="Начать")
    client.writes("+7 916 123-45-67")
    assert client.writes("другой номер") == BotChat.State.AWAIT_PHONE
    assert BotChat.objects.get().phone == ""


def test_balance_shows_points_history_and_expiry(bot):
    client = Client(bot)
    register(client)
    contact = Contact.objects.get()
    ledger_earn(contact, Decimal(150), reason="Покупка билета", source="purchase", idempotency_key="t1",
                expires_at=timezone.now() + dt.timedelta(days=10))
    client.presses("menu:balance")
    text = client.last().text
    assert "150 баллов" in text and "Покупка билета" in text and "сгорят" in text


def test_bookings_lists_upcoming_ones_only(bot):
    client = Client(bot)
    register(client)
    contact = Contact.objects.get()
    hall = Resource.objects.create(kind=Resource.Kind.HALL, name="Джунгли")
    for days, status in ((3, Booking.Status.CONFIRMED), (-3, Booking.Status.CONFIRMED), (5, Booking.Status.CANCELLED)):
        start = timezone.now() + dt.timedelta(days=days)
        booking = Booking.objects.create(contact=contact, starts_at=start, ends_at=start + dt.timedelta(hours=2),
                                         status=status)
        Reservation.objects.create(booking=booking, resource=hall, starts_at=booking.starts_at,
                                   blocked_until=booking.ends_at, active=status != Booking.Status.CANCELLED)
    client.presses("menu:bookings")
    text = client.last().text
    assert text.count("Джунгли") == 1


def test_contact_a_manager_makes_one_request_with_the_conversation(bot):
    client = Client(bot)
    register(client)
    client.presses("menu:manager")
    assert BotChat.objects.get().state == BotChat.State.AWAIT_QUESTION
    client.writes("Можно ли забронировать зал на субботу?")
    request = ClientRequest.objects.get()
    assert request.kind == ClientRequest.Kind.CALLBACK and request.contact == Contact.objects.get()
    assert "забронировать зал" in request.text and "Переписка" in request.text
    assert "передали ваш вопрос" in client.last().text
    BotChat.objects.update(state=BotChat.State.AWAIT_QUESTION)  # as if the turn's end was lost
    replay = BotInput(user_id=USER, message_id=str(client.n), text="Можно ли забронировать зал на субботу?")
    bot_receive(bot, "telegram", replay)  # the same update processed again
    assert ClientRequest.objects.count() == 1
    assert client.writes("а ещё вопрос") == BotChat.State.MENU  # back in the menu: not a second request
    assert ClientRequest.objects.count() == 1


def test_operator_texts_replace_the_defaults_and_a_broken_one_falls_back(bot):
    BotText.objects.create(key="menu", text="Выберите, {{ name|default:'друг' }}:")
    BotText.objects.create(key="registered", text="{% if %}")
    client = Client(bot)
    register(client)
    assert "Мы вас узнали" in client.last().text  # the broken text's default
    assert "Выберите, друг:" in client.last().text


def test_without_a_published_consent_text_the_bot_says_it_is_not_ready(db):
    connection, _ = connection_upsert(name="Бот", system="telegram", base_url="http://127.0.0.1:9",
                                      credentials={"token": "1:x"})
    client = Client(connection)
    client.writes("/start")
    assert "не настроен" in client.last().text


def test_consent_is_recorded_for_the_version_the_client_saw(bot):
    client = Client(bot)
    client.writes("/start")
    shown = client.last()
    consent_text_publish(purpose=Purpose.PERSONAL_DATA, version="2", text="Новая редакция.", operator_name="ООО Парк")
    client._send(data=buttons(shown)[0])  # the button under version 1, pressed after version 2 came out
    assert not ConsentRecord.objects.exists()
    assert "Новая редакция." in [m.text for m in client.answers()]  # shown the new text instead
    assert client.presses("pd:yes") == BotChat.State.AWAIT_MARKETING
    assert ConsentRecord.objects.get().text_version == "2"


def test_a_long_consent_document_is_sent_whole_in_parts(bot):
    consent_text_publish(purpose=Purpose.PERSONAL_DATA, version="9", text="а" * 8000, operator_name="ООО Парк")
    client = Client(bot)
    client.writes("/start")
    parts = [m.text for m in client.answers()[:-1]]
    assert "".join(parts) == "а" * 8000 and all(len(p) <= 4096 for p in parts)


def test_telegram_numbers_come_without_plus_and_may_be_foreign(bot):
    client = Client(bot)
    consents(client, marketing=False)
    client.shares("380501234567")
    assert Contact.objects.get().phone == "+380501234567"


def test_vk_code_step_tells_a_new_number_from_a_code(vk_bot, sms):
    client = Client(vk_bot, user_id="779")
    consents(client, marketing=False, first="Начать")
    client.writes("+7 916 123-45-67")
    assert client.writes("код не пришёл") == BotChat.State.AWAIT_CODE
    assert "6 цифр" in client.last().text
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + dt.timedelta(minutes=2)):
        assert client.writes("+7 916 765-43-21") == BotChat.State.AWAIT_CODE  # a new number, not a wrong code
    assert BotChat.objects.get().phone == "+79167654321"
    assert Message.objects.filter(connection=sms).count() == 2
