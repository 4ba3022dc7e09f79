"""Referrals: each client's personal code and link; a friend who registers with it is
recorded once per program and checked against the usual abuse (inviting oneself, the same
phone, device or card); a refused one is kept with its reason, so abuse is visible. The
reward (to the referrer, the friend or both) is paid on registration or on the friend's
first purchase, exactly once: keyed ledger entries under a lock of the referral row."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.models import Card, Contact, ContactIdentity
from hub.services.contacts import contact_resolve
from hub.services.normalize import phone_key
from loyalty.models import Entry, Program, Receipt, Referral, ReferralCode, ReferralProgram
from loyalty.services.certificates import code_new, code_normalize
from loyalty.services.ledger import ledger_earn, ledger_refund

log = logging.getLogger(__name__)

REFERRAL_CODE_LENGTH = 8


def referral_code_for(program: Program, contact: Contact) -> ReferralCode:
    """The client's code in the program, made on first request and never changed."""
    contact = contact_resolve(Contact.objects.get(pk=contact.pk))
    if (code := ReferralCode.objects.filter(program=program, contact=contact).first()) is not None:
        return code
    for _attempt in range(10):
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(program=program, contact=contact,
                                                   code=code_new(REFERRAL_CODE_LENGTH))
        except IntegrityError:
            if (code := ReferralCode.objects.filter(program=program, contact=contact).first()) is not None:
                return code  # made by a concurrent request
    raise ValidationError("Не удалось подобрать свободный код приглашения, попробуйте ещё раз.")


def referral_link(program: Program, contact: Contact) -> str:
    """The program's link with the client's code, or the bare code without a link template."""
    code = referral_code_for(program, contact).code
    rules = ReferralProgram.objects.filter(program=program).first()
    template = rules.link_template.strip() if rules is not None else ""
    return template.replace("{code}", code) if template else code


def _device_matches(device: str, identity: ContactIdentity) -> bool:
    return device in (identity.value, f"{identity.kind}:{identity.value}")


def _abuse(program: Program, referrer: Contact, friend: Contact, device: str, card: str,
           now: dt.datetime) -> str:
    """Why this referral must not be rewarded, or ''."""
    if referrer.pk == friend.pk:
        return "Нельзя пригласить самого себя."
    if referrer.phone and friend.phone and phone_key(referrer.phone) == phone_key(friend.phone):
        return "У друга тот же телефон, что у пригласившего."
    others = Referral.objects.filter(program=program).exclude(friend=friend)
    if device:
        if any(_device_matches(device, identity) for identity in referrer.identities.all()):
            return "Приглашение принято с устройства или аккаунта пригласившего."
        if others.filter(device=device).exists():
            return "С этого устройства уже регистрировались по приглашению."
    if card:
        if Card.objects.filter(code=card, contact=referrer).exists():
            return "Карта друга принадлежит пригласившему."
        if others.filter(card=card).exists():
            return "Эта карта уже участвовала в приглашении."
    if Receipt.objects.filter(program=program, contact=friend, status=Receipt.Status.PAID, at__lt=now).exists():
        return "Друг уже покупал раньше: приглашение действует только для новых клиентов."
    return ""


def referral_register(program: Program, friend: Contact, code: str, *, device: str = "", card: str = "",
                      now: dt.datetime | None = None) -> Referral:
    """The friend came with ``code``: recorded once per program (a second registration
    returns the first); refused with the reason when it looks like abuse; rewarded at once
    when the program rewards registration."""
    rules = ReferralProgram.objects.filter(program=program, active=True).first()
    if rules is None:
        raise ValidationError(f"В программе «{program}» приглашения друзей не действуют.")
    normalized = code_normalize(code)
    owner = ReferralCode.objects.filter(program=program, code=normalized).select_related("contact").first()
    if owner is None:
        raise ValidationError(f"Код приглашения {normalized or code!r} не найден.")
    now = now or timezone.now()
    # fresh from the database: either may have been merged into the other meanwhile
    friend, referrer = contact_resolve(Contact.objects.get(pk=friend.pk)), contact_resolve(owner.contact)
    if (seen := Referral.objects.filter(program=program, friend=friend).first()) is not None:
        return seen
    device, card = device.strip()[:128], card.strip()[:64]
    reason = _abuse(program, referrer, friend, device, card, now)
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                program=program, referrer=referrer, friend=friend, code=normalized, device=device, card=card,
                status=Referral.Status.REFUSED if reason else Referral.Status.PENDING, reason=reason)
    except IntegrityError:  # registered by a concurrent request
        return Referral.objects.get(program=program, friend=friend)
    log.info("referral %s registered (%s)", referral.pk, referral.status)
    if not reason and rules.trigger == ReferralProgram.Trigger.REGISTRATION:
        return referral_reward(referral, now=now)
    return referral


def referral_reward(referral: Referral, *, now: dt.datetime | None = None) -> Referral:
    """Pay the program's points to the referrer and/or the friend, once; a referral not
    pending (refused, rewarded) is returned as it is. A program whose points an external
    system keeps is left pending (the hub does not grant into it)."""
    now = now or timezone.now()
    with transaction.atomic():
        referral = Referral.objects.select_for_update().select_related("program", "referrer", "friend") \
            .get(pk=referral.pk)
        if referral.status != Referral.Status.PENDING:
            return referral
        program = referral.program
        rules = ReferralProgram.objects.filter(program=program).first()
        if rules is None:
            return referral
        if program.connection_id is not None:
            log.warning("referral %s not rewarded: program %s keeps points externally", referral.pk, program.pk)
            return referral
        for who, contact, points in (("referrer", referral.referrer, rules.referrer_points),
                                     ("friend", referral.friend, rules.friend_points)):
            if points > 0:
                ledger_earn(contact, points, source=Entry.Source.REFERRAL, program=program, now=now,
                            idempotency_key=f"referral:{referral.pk}:{who}", source_ref=str(referral.pk),
                            reason="Приглашение друга" if who == "referrer" else "Регистрация по приглашению")
        referral.status, referral.rewarded_at = Referral.Status.REWARDED, now
        referral.save(update_fields=["status", "rewarded_at"])
    log.info("referral %s rewarded", referral.pk)
    return referral


def referral_on_receipt(receipt: Receipt) -> Referral | None:
    """A paid receipt of an invited friend: the first one from the program's minimum rewards
    the referral (when the program rewards the first purchase)."""
    if receipt.status != Receipt.Status.PAID:
        return None
    referral = Referral.objects.filter(program_id=receipt.program_id, friend_id=receipt.contact_id,
                                       status=Referral.Status.PENDING).first()
    if referral is None:
        return None
    rules = ReferralProgram.objects.filter(program_id=receipt.program_id, active=True).first()
    if rules is None or rules.trigger != ReferralProgram.Trigger.FIRST_PURCHASE:
        return referral
    if receipt.total < rules.min_purchase:
        return referral
    return referral_reward(referral)


def referral_on_refund(receipt: Receipt) -> Referral | None:
    """A refunded receipt of a friend rewarded for the first purchase: when no other paid
    receipt from the minimum is left, the reward is taken back (what is left of it) and the
    referral refused — buying, returning and inviting again earns nothing."""
    rules = ReferralProgram.objects.filter(program_id=receipt.program_id).first()
    if rules is None or rules.trigger != ReferralProgram.Trigger.FIRST_PURCHASE:
        return None
    with transaction.atomic():
        referral = Referral.objects.select_for_update().filter(
            program_id=receipt.program_id, friend_id=receipt.contact_id, status=Referral.Status.REWARDED).first()
        if referral is None or Receipt.objects.filter(
                program_id=receipt.program_id, contact_id=receipt.contact_id, status=Receipt.Status.PAID,
                total__gte=rules.min_purchase).exists():
            return referral
        for who in ("referrer", "friend"):
            key = f"referral:{referral.pk}:{who}"
            if Entry.objects.filter(idempotency_key=key).exists():
                ledger_refund(key, reason="Покупка по приглашению возвращена", idempotency_key=f"{key}:refund")
        referral.status, referral.reason = Referral.Status.REFUSED, "Первая покупка возвращена: награда отменена."
        referral.save(update_fields=["status", "reason"])
    log.info("referral %s reward taken back after a refund", referral.pk)
    return referral


def on_receipt_confirmed(sender: Any, receipt: Receipt, **kwargs: Any) -> None:
    referral_on_receipt(receipt)


def on_receipt_refunded(sender: Any, receipt: Receipt, **kwargs: Any) -> None:
    referral_on_refund(receipt)
