"""Manual grants and deductions by managers (admin) and from the CRM (a deal moved to the
stage the operator named): within the role's limit, with a reason, audited as ledger
entries that carry who, when and why."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max

from hub.models import Connection, Contact
from hub.services.deals import CrmDealView, crm_deal_note, deal_trigger_field, deal_triggered
from hub.services.external_refs import external_ref_find
from hub.services.money import money
from loyalty.models import Entry, GrantLimit, ProgramRequest
from loyalty.services.ledger import ledger_adjust, program_default
from loyalty.services.programs import program_request

log = logging.getLogger(__name__)


def grant_limit_for(user: Any) -> Decimal | None:
    """None: no limit (superuser). 0: may not grant at all."""
    if getattr(user, "is_superuser", False):
        return None
    best = GrantLimit.objects.filter(group__user=user).aggregate(top=Max("max_points"))["top"]
    return money(best) if best is not None else Decimal(0)


def bonus_grant(contact: Contact, points: Decimal | int | str, *, reason: str, actor: AbstractBaseUser,
                idempotency_key: str) -> Entry | ProgramRequest:
    """A manager's grant (positive) or deduction (negative), refused above their role's limit.
    With an external program it is queued for the program (a ProgramRequest)."""
    value = money(points)
    limit = grant_limit_for(actor)
    if limit is not None and abs(value) > limit:
        raise PermissionDenied(f"Ваш лимит — {limit} баллов за одну операцию; запрошено {abs(value)}. "
                               "Попросите старшего менеджера.")
    program = program_default()
    if program.connection_id is not None:
        log.info("bonus grant %s points to contact %s by user %s, queued for the program", value, contact.pk,
                 actor.pk)
        return program_request(program, contact, kind=ProgramRequest.Kind.ADJUST, key=idempotency_key,
                               points=value, reason=reason.strip(), actor=actor, source=Entry.Source.MANUAL)
    entry = ledger_adjust(contact, value, reason=reason, idempotency_key=idempotency_key, actor=actor,
                          source=Entry.Source.MANUAL)
    log.info("bonus grant %s points to contact %s by user %s", value, contact.pk, actor.pk)
    return entry


def bonus_from_crm_deal(connection: Connection, deal: CrmDealView) -> Entry | None:
    """A deal moved to the operator's "grant bonuses" stage grants (or deducts) the points in
    its field to the deal's contact, within the connection's CRM limit; the deal gets a note."""
    if not deal_triggered(connection, deal, "bonus"):
        return None
    try:
        raw = deal_trigger_field(connection, deal, "bonus", "points").replace(",", ".").replace(" ", "")
        try:
            points = money(raw)
        except ValidationError as exc:
            raise ValidationError(f"в поле баллов не число: {raw!r}") from exc
        if points == 0:
            raise ValidationError("в поле баллов ноль")
        reason = deal_trigger_field(connection, deal, "bonus", "reason") or f"Начисление из CRM, сделка {deal.id}"
        limit = money(connection.settings.get("bonus_max_grant", 1000))
        if abs(points) > limit:
            raise ValidationError(f"больше лимита для CRM ({limit} баллов за операцию)")
        ref = external_ref_find(connection, "contact", deal.contact_id) if deal.contact_id else None
        contact = Contact.objects.filter(pk=ref.local_id).first() if ref else None
        if contact is None:
            raise ValidationError("у сделки нет контакта, известного хабу")
        # One grant per deal and amount: moving the deal back and forth does not grant twice.
        key = f"crm:{connection.pk}:deal:{deal.id}:{points}"
        if Entry.objects.filter(idempotency_key=key).exists() or \
                ProgramRequest.objects.filter(idempotency_key=key).exists():
            crm_deal_note(connection, deal.id, f"Хаб: эти {abs(points)} баллов по сделке уже проведены ранее.")
            return None
        program = program_default()
        if program.connection_id is not None:  # the program answers; the note follows its answer
            program_request(program, contact, kind=ProgramRequest.Kind.ADJUST, key=key, points=points,
                            reason=reason, source=Entry.Source.CRM,
                            payload={"note": {"connection": connection.pk, "deal": deal.id}})
            return None
        entry = ledger_adjust(contact, points, reason=reason, source=Entry.Source.CRM, idempotency_key=key)
    except ValidationError as exc:
        crm_deal_note(connection, deal.id, "Хаб: баллы не начислены: " + "; ".join(exc.messages) + ".")
        return None
    account = entry.account
    account.refresh_from_db(fields=["balance"])
    verb = "начислено" if entry.points > 0 else "списано"
    crm_deal_note(connection, deal.id, f"Хаб: {verb} {abs(entry.points)} баллов. Баланс: {account.balance}.")
    return entry


def on_deal_moved(sender: Any, connection: Connection, deal: CrmDealView, previous: tuple[str, str],
                  **kwargs: Any) -> None:
    bonus_from_crm_deal(connection, deal)
