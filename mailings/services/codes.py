"""One-time codes that prove a client holds a phone: the cabinet signs in with them, a bot
confirms a typed number with them.

A code is 6 digits from ``secrets``, kept only as an HMAC (keyed by SECRET_KEY: six digits
alone are guessed offline in a blink), lives 10 minutes and works once. It travels as a
service message (no marketing consent needed) through the mailings machinery: a Message and
its outbox row, sent by the provider's connector. Abuse is bounded per phone: one code a
minute, five an hour, and five wrong guesses in a row (across resends) lock the phone for
15 minutes. Neither the phone nor the code is ever logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from hub.locks import LockTimeout, named_lock
from hub.models import Contact, ContactIdentity
from hub.services.contacts import contact_by_identity
from hub.services.normalize import phone_normalize
from mailings.models import Channel, Message, OneTimeCode
from mailings.services.outgoing import message_reply
from mailings.services.reach import channel_connections

log = logging.getLogger(__name__)

DIGITS = 6
TTL = dt.timedelta(minutes=10)
RESEND_AFTER = dt.timedelta(seconds=60)
PER_HOUR = 5
MAX_WRONG = 5
LOCK_FOR = dt.timedelta(minutes=15)
VIA = (Channel.SMS, Channel.TELEGRAM)
SCRUBBED = "Код подтверждения: ******"  # what a sent message keeps once its code is spent


class CodeRefused(Exception):
    """No code now (sending or checking); ``reason`` is a Russian sentence for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CodeThrottled(CodeRefused):
    """Refused for now (sent a moment ago, too many this hour, locked); try after ``retry_after`` s."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class CodeSent:
    phone: str  # E.164
    channel: str
    expires_at: dt.datetime


def _hash(phone: str, purpose: str, code: str) -> str:
    return salted_hmac("mailings.codes", f"{phone}\n{purpose}\n{code}", algorithm="sha256").hexdigest()


def _phone(raw: str) -> str:
    try:
        return phone_normalize(str(raw or "")[:64])
    except ValidationError as exc:
        raise CodeRefused("Проверьте номер телефона: он набран с ошибкой.") from exc


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def _locked_until(phone: str, now: dt.datetime) -> dt.datetime | None:
    row = OneTimeCode.objects.filter(phone=phone, locked_until__gt=now).order_by("-locked_until").first()
    return row.locked_until if row else None


def _locked(until: dt.datetime, now: dt.datetime) -> CodeThrottled:
    wait = _seconds(until - now)
    return CodeThrottled(f"Слишком много неверных кодов. Попробуйте снова через {-(-wait // 60)} мин.", wait)


def _route(phone: str, via: str) -> tuple[str, Contact | None]:
    """The address to send to and the contact it belongs to (if any), or why there is none."""
    contact = contact_by_identity(ContactIdentity.Kind.PHONE, phone)
    if via == Channel.SMS:
        return phone, contact
    chat = None
    if contact is not None:
        chat = (ContactIdentity.objects.filter(contact=contact, kind=ContactIdentity.Kind.TELEGRAM)
                .order_by("pk").values_list("value", flat=True).first())
    if not chat:
        raise CodeRefused("К этому номеру не привязан Telegram: напишите нашему боту или получите код по SMS.")
    return chat, contact


def _purpose_check(purpose: str) -> None:
    if not purpose or len(purpose) > OneTimeCode._meta.get_field("purpose").max_length:
        raise ValueError("purpose: a short name such as 'cabinet' or 'bot'")


def _lock_name(phone: str) -> str:
    return "otp:" + hashlib.sha256(f"{settings.SECRET_KEY}:{phone}".encode()).hexdigest()[:32]


def code_send(phone: str, *, purpose: str, via: str = "sms", now: dt.datetime | None = None) -> CodeSent:
    """Send a new code to ``phone`` by SMS or to its contact's Telegram chat; the previous code
    for the same purpose stops working. Raises CodeRefused with the reason for the client."""
    now = now or timezone.now()
    _purpose_check(purpose)
    phone = _phone(phone)
    if via not in VIA:
        raise CodeRefused("Код можно получить по SMS или в Telegram.")
    try:
        return _send(phone, purpose, via, now)
    except LockTimeout as exc:
        raise CodeThrottled("Код уже отправляется. Попробуйте через несколько секунд.", 5) from exc


def _send(phone: str, purpose: str, via: str, now: dt.datetime) -> CodeSent:
    # One sender per phone at a time, so the per-minute and per-hour limits hold under races.
    with named_lock(_lock_name(phone), timeout=30, wait=10), transaction.atomic():
        until = _locked_until(phone, now)
        if until is not None:
            raise _locked(until, now)
        recent = list(OneTimeCode.objects.filter(phone=phone, created_at__gt=now - dt.timedelta(hours=1))
                      .order_by("-created_at", "-pk"))
        if recent and recent[0].created_at > now - RESEND_AFTER:
            wait = _seconds(recent[0].created_at + RESEND_AFTER - now)
            raise CodeThrottled(f"Код уже отправлен. Новый можно запросить через {wait} с.", wait)
        if len(recent) >= PER_HOUR:
            wait = _seconds(recent[PER_HOUR - 1].created_at + dt.timedelta(hours=1) - now)
            raise CodeThrottled(f"Слишком много кодов за час. Попробуйте через {-(-wait // 60)} мин.", wait)
        address, contact = _route(phone, via)
        connection = channel_connections().get(via)
        if connection is None:
            raise CodeRefused("Сейчас не получается отправить код этим способом. Попробуйте позже "
                              "или выберите другой.")
        previous = next((c for c in recent if c.purpose == purpose), None)
        # Wrong guesses carry over to the next code until one is right: resending does not reset them.
        carried = previous.attempts if previous is not None and previous.used_at is None \
            and previous.created_at > now - LOCK_FOR else 0
        code = "".join(secrets.choice("0123456789") for _ in range(DIGITS))
        row = OneTimeCode.objects.create(phone=phone, purpose=purpose, channel=via,
                                         code_hash=_hash(phone, purpose, code), created_at=now,
                                         expires_at=now + TTL, attempts=carried)
        message = message_reply(connection, via, address,
                                f"Код подтверждения: {code}. Никому его не сообщайте.",
                                key=f"otp:{row.pk}", contact=contact)
        OneTimeCode.objects.filter(pk=row.pk).update(message=message)
        _scrub(OneTimeCode.objects.filter(phone=phone).exclude(pk=row.pk))
    log.info("one-time code %s (%s) queued via %s", row.pk, purpose, via)
    return CodeSent(phone=phone, channel=via, expires_at=row.expires_at)


def _scrub(codes: QuerySet[OneTimeCode]) -> None:
    """Sent messages of spent or superseded codes keep no code: operators read messages too."""
    Message.objects.filter(pk__in=codes.exclude(message=None).values("message_id")).exclude(
        status=Message.Status.QUEUED).exclude(text=SCRUBBED).update(text=SCRUBBED)


def code_check(phone: str, code: str, *, purpose: str, now: dt.datetime | None = None) -> bool:
    """True once for the right, unexpired, unused code of the latest sent for ``purpose``;
    False for a wrong one (it counts; the fifth in a row locks the phone). Raises
    CodeRefused when the phone is locked or there is no live code to check."""
    now = now or timezone.now()
    _purpose_check(purpose)
    phone = _phone(phone)
    given = "".join(ch for ch in str(code or "")[:32] if not ch.isspace())
    with transaction.atomic():
        until = _locked_until(phone, now)
        if until is not None:
            raise _locked(until, now)
        # The row lock makes simultaneous guesses take turns: each wrong one is counted.
        row = (OneTimeCode.objects.select_for_update().filter(phone=phone, purpose=purpose)
               .order_by("-created_at", "-pk").first())
        if row is None:
            raise CodeRefused("Сначала запросите код.")
        if row.locked_until is not None and row.locked_until > now:  # a guess just before ours locked it
            raise _locked(row.locked_until, now)
        if row.attempts >= MAX_WRONG:
            raise CodeRefused("Этот код больше не действует. Запросите новый.")
        if row.used_at is not None:
            raise CodeRefused("Этот код уже использован. Запросите новый.")
        if row.expires_at <= now:
            raise CodeRefused("Срок действия кода истёк. Запросите новый.")
        if constant_time_compare(_hash(phone, purpose, given), row.code_hash):
            row.used_at = now
            row.save(update_fields=["used_at"])
            _scrub(OneTimeCode.objects.filter(pk=row.pk))
            log.info("one-time code %s (%s) confirmed", row.pk, purpose)
            return True
        row.attempts += 1
        fields = ["attempts"]
        if row.attempts >= MAX_WRONG:
            row.locked_until = now + LOCK_FOR
            fields.append("locked_until")
        row.save(update_fields=fields)
    log.info("one-time code %s (%s): wrong guess %s%s", row.pk, purpose, row.attempts,
             ", phone locked" if row.locked_until else "")
    return False


def code_attempts_left(phone: str, *, purpose: str, now: dt.datetime | None = None) -> int:
    """How many wrong guesses the live code of ``purpose`` still allows (0: none live)."""
    now = now or timezone.now()
    try:
        phone = _phone(phone)
    except CodeRefused:
        return 0
    row = OneTimeCode.objects.filter(phone=phone, purpose=purpose).order_by("-created_at", "-pk").first()
    if row is None or row.used_at is not None or row.expires_at <= now or _locked_until(phone, now) is not None:
        return 0
    return max(0, MAX_WRONG - row.attempts)
