"""One-time codes (mailings/services/codes.py), the cabinet's and the bots' proof of a phone:
delivered through SMS.ru's and Telegram's emulators over real HTTP, right once, wrong ones
counted (also when guessed at the same moment), a lock after five, expiry, resend and hourly
limits, no code or phone in clear in the database or the logs."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from hub.models import Connection
from mailings.models import Message, OneTimeCode
from mailings.services.codes import SCRUBBED, CodeRefused, CodeThrottled, code_attempts_left, code_check, code_send
from tests.cabinet.conftest import PHONE, TELEGRAM_ID, TYPED, last_code
from tests.helpers import run_at_once

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def _later(**delta: float) -> dt.datetime:
    return T0 + dt.timedelta(**delta)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_travels_by_sms_and_works_exactly_once(sms, person, caplog):
    anna = person("Анна", phone=PHONE)
    caplog.set_level(logging.INFO)
    sent = code_send(TYPED, purpose="cabinet")
    assert (sent.phone, sent.channel) == (PHONE, "sms")
    assert dt.timedelta(minutes=9, seconds=59) < sent.expires_at - timezone.now() <= dt.timedelta(minutes=10)
    code = last_code(sms)
    row = OneTimeCode.objects.get()
    assert code not in row.code_hash and len(row.code_hash) == 64
    message = Message.objects.get()
    assert (message.contact, message.channel, message.address, message.campaign) == (anna, "sms", PHONE, None)
    assert code_check(TYPED, f" {code} ", purpose="cabinet") is True
    with pytest.raises(CodeRefused, match="уже использован"):
        code_check(PHONE, code, purpose="cabinet")
    message.refresh_from_db()
    assert message.text == SCRUBBED  # operators read messages in admin: a spent code is not kept there
    ours = [r.getMessage() for r in caplog.records if r.name == "mailings.services.codes"]
    assert ours and not any(code in text or "9161234567" in text for text in ours)


def test_a_code_is_for_its_purpose_only_and_needs_no_client(sms):
    """A bot confirms a number that is nobody's yet; its code does not sign in to the cabinet."""
    code_send(PHONE, purpose="bot")
    code = last_code(sms)
    assert Message.objects.get().contact is None
    with pytest.raises(CodeRefused, match="Сначала запросите код"):
        code_check(PHONE, code, purpose="cabinet")
    assert code_check(PHONE, code, purpose="bot") is True


def test_wrong_codes_count_and_the_fifth_locks_the_phone_for_15_minutes(sms):
    code_send(PHONE, purpose="cabinet", now=T0)
    code = last_code(sms)
    for attempt in range(1, 5):
        assert code_check(PHONE, _wrong(code), purpose="cabinet", now=_later(seconds=attempt)) is False
        assert code_attempts_left(PHONE, purpose="cabinet", now=_later(seconds=attempt)) == 5 - attempt
    assert code_check(PHONE, _wrong(code), purpose="cabinet", now=_later(seconds=5)) is False
    row = OneTimeCode.objects.get()
    assert row.attempts == 5 and row.locked_until == _later(seconds=5, minutes=15)
    with pytest.raises(CodeThrottled, match="через 15 мин") as locked:
        code_check(PHONE, code, purpose="cabinet", now=_later(seconds=6))  # even the right one
    assert locked.value.retry_after == 15 * 60 - 1
    with pytest.raises(CodeThrottled, match="неверных кодов"):
        code_send(PHONE, purpose="cabinet", now=_later(minutes=5))
    with pytest.raises(CodeThrottled, match="неверных кодов"):
        code_send(PHONE, purpose="bot", now=_later(minutes=5))  # the phone is locked, whatever for
    code_send(PHONE, purpose="cabinet", now=_later(minutes=15, seconds=6))
    assert code_check(PHONE, last_code(sms), purpose="cabinet", now=_later(minutes=16)) is True


def test_resending_keeps_the_wrong_guesses_and_only_the_newest_code_works(sms):
    code_send(PHONE, purpose="cabinet", now=T0)
    first = last_code(sms)
    for second in range(3):
        assert code_check(PHONE, _wrong(first), purpose="cabinet", now=_later(seconds=second)) is False
    code_send(PHONE, purpose="cabinet", now=_later(minutes=2))
    newest = last_code(sms)
    assert code_attempts_left(PHONE, purpose="cabinet", now=_later(minutes=2)) == 2
    if first != newest:
        assert code_check(PHONE, first, purpose="cabinet", now=_later(minutes=3)) is False
    assert code_check(PHONE, newest, purpose="cabinet", now=_later(minutes=3)) is True
    assert Message.objects.filter(text=SCRUBBED).count() == 2  # the superseded one and the used one


def test_a_code_expires_after_10_minutes(sms):
    code_send(PHONE, purpose="cabinet", now=T0)
    code = last_code(sms)
    with pytest.raises(CodeRefused, match="истёк"):
        code_check(PHONE, code, purpose="cabinet", now=_later(minutes=10))
    code_send(PHONE, purpose="cabinet", now=_later(minutes=11))
    assert code_check(PHONE, last_code(sms), purpose="cabinet", now=_later(minutes=20, seconds=59)) is True


def test_one_code_a_minute_and_five_an_hour(sms):
    code_send(PHONE, purpose="cabinet", now=T0)
    with pytest.raises(CodeThrottled, match="через 30 с") as soon:
        code_send(PHONE, purpose="cabinet", now=_later(seconds=30))
    assert soon.value.retry_after == 30
    with pytest.raises(CodeThrottled):
        code_send(PHONE, purpose="bot", now=_later(seconds=59))  # one phone, one SMS a minute
    for n in range(1, 5):
        code_send(PHONE, purpose="cabinet", now=_later(minutes=2 * n))
    with pytest.raises(CodeThrottled, match="за час") as hourly:
        code_send(PHONE, purpose="cabinet", now=_later(minutes=10))
    assert hourly.value.retry_after == 50 * 60
    code_send(PHONE, purpose="cabinet", now=_later(minutes=60, seconds=1))
    assert OneTimeCode.objects.count() == 6


def test_a_code_in_telegram_goes_to_the_clients_chat(telegram, sms, person):
    person("Анна", phone=PHONE, messengers={"telegram": TELEGRAM_ID})
    sent = code_send(PHONE, purpose="cabinet", via="telegram")
    assert sent.channel == "telegram"
    code = last_code(telegram, to=TELEGRAM_ID)
    assert sms.sent() == []
    assert code_check(PHONE, code, purpose="cabinet") is True


def test_no_telegram_chat_or_no_provider_refuses_with_a_reason(sms, person):
    person("Анна", phone=PHONE)
    person("Борис", phone="+79161234568", messengers={"telegram": TELEGRAM_ID})
    with pytest.raises(CodeRefused, match="не привязан Telegram"):
        code_send(PHONE, purpose="cabinet", via="telegram")
    with pytest.raises(CodeRefused, match="не привязан Telegram"):
        code_send("+79161234569", purpose="cabinet", via="telegram")  # nobody's number
    with pytest.raises(CodeRefused, match="Сейчас не получается"):
        code_send("+79161234568", purpose="cabinet", via="telegram")  # a chat, but no Telegram connection
    Connection.objects.filter(pk=sms.connection.pk).update(enabled=False)
    with pytest.raises(CodeRefused, match="Сейчас не получается"):
        code_send(PHONE, purpose="cabinet")
    assert OneTimeCode.objects.count() == 0


@pytest.mark.parametrize("phone", ["", "12", "not a phone", "+7 000 000-00-00", "\x00", "9" * 200])
def test_a_bad_phone_or_channel_is_refused(sms, phone):
    with pytest.raises(CodeRefused, match="номер телефона"):
        code_send(phone, purpose="cabinet")
    with pytest.raises(CodeRefused, match="номер телефона"):
        code_check(phone, "123456", purpose="cabinet")
    with pytest.raises(CodeRefused, match="SMS или в Telegram"):
        code_send(PHONE, purpose="cabinet", via="pigeon")


def test_checking_before_any_code_was_sent_is_refused(sms):
    with pytest.raises(CodeRefused, match="Сначала запросите код"):
        code_check(PHONE, "123456", purpose="cabinet")


@pytest.mark.django_db(transaction=True)
def test_simultaneous_wrong_guesses_all_count(sms):
    """Six guesses at once: five are counted (the fifth locks), the sixth finds the lock. On
    PostgreSQL the row lock makes them take turns, on SQLite the write transaction does."""
    code_send(PHONE, purpose="cabinet")
    code = last_code(sms)
    outcomes: list[object] = []

    def guess(_: int) -> None:
        try:
            outcomes.append(code_check(PHONE, _wrong(code), purpose="cabinet"))
        except CodeRefused as exc:
            outcomes.append(type(exc))

    assert run_at_once(6, guess) == []
    assert sorted(map(str, outcomes)) == sorted(["False"] * 5 + [str(CodeThrottled)])
    row = OneTimeCode.objects.get()
    assert row.attempts == 5 and row.locked_until is not None


def test_support_sees_codes_in_the_admin_without_the_code_or_the_whole_phone(sms, admin_client):
    code_send(PHONE, purpose="cabinet")
    row = OneTimeCode.objects.get()
    listing = reverse("admin:mailings_onetimecode_changelist")
    page = admin_client.get(listing).content.decode()
    assert "+7916*****67" in page and PHONE not in page and row.code_hash not in page
    assert "+7916*****67" in admin_client.get(listing, {"q": PHONE}).content.decode()  # found by the exact number
    assert "+7916*****67" not in admin_client.get(listing, {"q": "+7916"}).content.decode()  # not by a part
    detail = admin_client.get(reverse("admin:mailings_onetimecode_change", args=[row.pk])).content.decode()
    assert "+7916*****67" in detail and row.code_hash not in detail
    assert admin_client.get(reverse("admin:mailings_onetimecode_add")).status_code == 403
