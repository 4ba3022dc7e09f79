"""What a client changes in the cabinet: signing in with a one-time code, their contact details
(through contact_upsert, so Lime and the CRMs get the change from the outbox) and withdrawing
consent. Pages and API call the same functions."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from cabinet.selectors import contact_by_phone
from hub.models import ConsentRecord, Contact, ContactIdentity
from hub.models.consent import Purpose
from hub.services.consent import consent_withdraw
from hub.services.contacts import ContactData, contact_resolve, contact_upsert
from hub.services.normalize import email_normalize, phone_normalize
from mailings.services.codes import CodeRefused, CodeSent, code_attempts_left, code_check, code_send

log = logging.getLogger(__name__)

PURPOSE = "cabinet"  # the one-time codes' purpose
NAME_FIELDS = ("first_name", "last_name", "middle_name")
OLDEST_BIRTH_YEAR = 1900
BAD_PHONE = "Проверьте номер телефона: он набран с ошибкой."
NOT_A_CLIENT = ("Клиент с таким номером не найден. Проверьте номер или оформите карту на кассе "
                "или в нашем боте.")
PERSONAL_DATA_WITHDRAWN = (
    "Согласие на обработку персональных данных отозвано. Мы прекращаем обработку ваших данных и "
    "уничтожим их в течение 30 дней, если закон не требует хранить их дольше (например, чеки — по "
    "правилам бухгалтерского учёта). Рассылки тоже отключены. Вы вышли из личного кабинета.")
MARKETING_WITHDRAWN = ("Вы отказались от рекламных рассылок. Сообщения о ваших бронированиях и покупках "
                       "продолжат приходить.")
NOTHING_TO_WITHDRAW = "Действующего согласия не было — ничего не изменилось."


def sign_in_code_send(phone: str, via: str = "sms", *, now: dt.datetime | None = None) -> CodeSent:
    """A sign-in code for an existing client. Telling a stranger "no such client" reveals who
    is one; the per-address and per-phone limits keep that to a trickle."""
    try:
        phone_normalize(str(phone or "")[:64])
    except ValidationError as exc:
        raise CodeRefused(BAD_PHONE) from exc
    if contact_by_phone(phone) is None:
        raise CodeRefused(NOT_A_CLIENT)
    return code_send(phone, purpose=PURPOSE, via=via, now=now)


def sign_in_code_check(phone: str, code: str, *, now: dt.datetime | None = None) -> Contact:
    """The client whose phone the code was sent to; CodeRefused with the reason otherwise."""
    if not code_check(phone, code, purpose=PURPOSE, now=now):
        left = code_attempts_left(phone, purpose=PURPOSE, now=now)
        if left == 0:
            raise CodeRefused("Неверный код. Попытки закончились: запросите новый код через 15 минут.")
        raise CodeRefused(f"Неверный код. Осталось попыток: {left}.")
    contact = contact_by_phone(phone)
    if contact is None:
        raise CodeRefused(NOT_A_CLIENT)
    log.info("cabinet: contact %s signed in", contact.pk)
    return contact


@dataclass
class Details:
    """The editable part of a contact; None leaves a field as it is."""

    first_name: str | None = None
    last_name: str | None = None
    middle_name: str | None = None
    email: str | None = None
    birth_date: dt.date | None = None


def contact_details_update(contact: Contact, details: Details, *, today: dt.date | None = None) -> Contact:
    """Save what the client typed. Empty values do not erase anything (the other systems would
    not follow a blank either). An e-mail of another client is refused: taking it would merge
    the two cards and show one person the other's history."""
    today = today or timezone.localdate()
    contact = contact_resolve(contact)
    errors: dict[str, list[str]] = {}
    data = ContactData()
    changed = False
    for name in NAME_FIELDS:
        value = (getattr(details, name) or "").strip()
        if value and value != getattr(contact, name):
            setattr(data, name, value)
            changed = True
    if details.email:
        try:
            email = email_normalize(details.email)
        except ValidationError:
            errors["email"] = ["Проверьте e-mail: он набран с ошибкой."]
        else:
            owner = (ContactIdentity.objects.filter(kind=ContactIdentity.Kind.EMAIL, value=email)
                     .values_list("contact_id", flat=True).first())
            if owner is not None and contact_resolve(Contact.objects.get(pk=owner)).pk != contact.pk:
                errors["email"] = ["Этот e-mail указан у другого клиента. Укажите другой или обратитесь к "
                                   "администратору."]
            elif email != contact.email:
                data.emails = [email]
                changed = True
    if details.birth_date is not None:
        if details.birth_date > today or details.birth_date.year < OLDEST_BIRTH_YEAR:
            errors["birth_date"] = ["Проверьте дату рождения."]
        elif details.birth_date != contact.birth_date:
            data.birth_date = details.birth_date
            changed = True
    if errors:
        raise ValidationError(errors)
    if not changed:
        return contact
    contact, _ = contact_upsert(data, known=contact)
    log.info("cabinet: contact %s edited their details", contact.pk)
    return contact


@dataclass(frozen=True)
class Withdrawal:
    purpose: str
    withdrawn: int  # consent records withdrawn
    sign_out: bool
    detail: str


def client_consent_withdraw(contact: Contact, purpose: str) -> Withdrawal:
    """The client withdraws a consent in the cabinet. Without personal-data processing there
    are no mailings either, so that withdrawal takes marketing consent with it and ends the
    session."""
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": ["Такого согласия нет."]})
    contact = contact_resolve(contact)
    purposes = [Purpose.PERSONAL_DATA, Purpose.MARKETING] if purpose == Purpose.PERSONAL_DATA else [purpose]
    counts = [consent_withdraw(purpose=p, channel=ConsentRecord.Channel.WEB, contact=contact) for p in purposes]
    log.info("cabinet: contact %s withdrew %s consent (%s records)", contact.pk, purpose, sum(counts))
    if purpose == Purpose.PERSONAL_DATA:
        return Withdrawal(purpose, counts[0], True, PERSONAL_DATA_WITHDRAWN)
    return Withdrawal(purpose, counts[0], False, MARKETING_WITHDRAWN if counts[0] else NOTHING_TO_WITHDRAW)
