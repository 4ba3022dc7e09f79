"""Points to many at once: a mass accrual over a contact filter, and the daily birthday
bonuses. Each is one set-based write (accounts, entries, balances in three statements), keyed
per contact and campaign, so a re-run grants nobody twice."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from hub.models import Contact, Outbox
from hub.segments import ContactFilter, contacts_matching
from hub.services.contacts import contacts_publish_later
from hub.services.money import money
from loyalty.models import Account, BirthdayBonus, Entry, Program, ProgramRequest
from loyalty.selectors import birthdays_on
from loyalty.services.ledger import program_default

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    contacts: int
    already: int  # got this campaign before: a re-run skips them
    points_total: Decimal


def _key_prefix(campaign: str) -> str:
    if not campaign or len(campaign) > 100:
        raise ValidationError({"campaign": "Назовите начисление (до 100 символов): "
                                           "по имени повтор не начислит дважды."})
    return f"campaign:{campaign}:"


def mass_preview(spec: ContactFilter, points: Decimal | int | str, campaign: str) -> Preview:
    amount = money(points)
    prefix = _key_prefix(campaign)
    targets = contacts_matching(spec)
    count = targets.count()
    already = Entry.objects.filter(idempotency_key__startswith=prefix,
                                   account__contact__in=targets.values("pk")).count()
    if program_default().connection_id is not None:  # granted through the program: requests
        already = ProgramRequest.objects.filter(idempotency_key__startswith=prefix,
                                                contact__in=targets.values("pk")).count()
    return Preview(contacts=count, already=already, points_total=amount * (count - already))


def mass_accrue(spec: ContactFilter, points: Decimal | int | str, *, campaign: str, reason: str,
                actor: object = None, program: Program | None = None, expires_at: dt.datetime | None = None,
                source: str = Entry.Source.CAMPAIGN) -> int:
    """Grant ``points`` to every contact the filter picks; returns how many got them now."""
    return _grant_set(contacts_matching(spec), points, key_prefix=_key_prefix(campaign), reason=reason,
                      actor=actor, program=program, expires_at=expires_at, source=source)


def _grant_set(targets: QuerySet[Contact], points: Decimal | int | str, *, key_prefix: str, reason: str,
               actor: object, program: Program | None, expires_at: dt.datetime | None, source: str) -> int:
    amount = money(points)
    if amount <= 0:
        raise ValidationError({"points": "Количество баллов должно быть больше нуля."})
    if not reason.strip():
        raise ValidationError({"reason": "Укажите причину."})
    program = program or program_default()
    if expires_at is None and program.expiry_days:
        expires_at = timezone.now() + dt.timedelta(days=program.expiry_days)
    now, run = timezone.now(), f"run:{uuid.uuid4().hex}"
    ids_sql, ids_params = targets.annotate(cid=F("pk")).values("cid").query.sql_with_params()
    if program.connection_id is not None:
        return _request_set(ids_sql, ids_params, amount, key_prefix=key_prefix, reason=reason, actor=actor,
                            program=program, source=source, now=now, run=run)
    account_t, entry_t = Account._meta.db_table, Entry._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {account_t} (contact_id, program_id, balance, pending, expiring, tier_value, updated_at) "  # noqa: S608
            f"SELECT t.cid, %s, 0, 0, '[]', 0, %s FROM ({ids_sql}) t WHERE 1 = 1 "  # SQLite: WHERE ends the SELECT
            "ON CONFLICT (contact_id, program_id) DO NOTHING", [program.pk, now, *ids_params])
        cursor.execute(
            f"INSERT INTO {entry_t} (account_id, kind, points, reason, source, source_ref, actor_id, "  # noqa: S608
            "idempotency_key, available_at, expires_at, reverses_id, created_at) "
            f"SELECT a.id, %s, %s, %s, %s, %s, %s, CAST(%s AS TEXT) || CAST(a.contact_id AS TEXT), NULL, %s, NULL, %s "
            f"FROM {account_t} a "
            f"WHERE a.program_id = %s AND a.contact_id IN ({ids_sql}) "
            "ON CONFLICT (idempotency_key) DO NOTHING",
            [Entry.Kind.EARN, amount, reason.strip()[:255], source, run, getattr(actor, "pk", None), key_prefix,
             expires_at, now, program.pk, *ids_params])
        granted = cursor.rowcount
        cursor.execute(
            f"UPDATE {account_t} SET balance = balance + %s, updated_at = %s "  # noqa: S608
            f"WHERE id IN (SELECT account_id FROM {entry_t} WHERE source_ref = %s)", [amount, now, run])
        touched = Contact.objects.filter(bonus_accounts__entries__source_ref=run).values_list("pk", flat=True)
        contacts_publish_later(list(touched))  # CRM cards show the balance; they follow in the background
    log.info("granted %s points to %s contacts (%s)", amount, granted, key_prefix)
    return granted


def _request_set(ids_sql: str, ids_params: tuple, amount: Decimal, *, key_prefix: str, reason: str,
                 actor: object, program: Program, source: str, now: dt.datetime, run: str) -> int:
    """The same grant for an external program: one request per contact and one outbox row per
    request, each written by one statement; the program's answers fill the mirror later."""
    request_t, outbox_t = ProgramRequest._meta.db_table, Outbox._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {request_t} (program_id, contact_id, kind, points, reason, source, actor_id, "  # noqa: S608
            "idempotency_key, order_ref, payload, run, status, error, created_at, done_at) "
            f"SELECT %s, t.cid, %s, %s, %s, %s, %s, CAST(%s AS TEXT) || CAST(t.cid AS TEXT), '', '{{}}', %s, %s, '', "
            f"%s, NULL FROM ({ids_sql}) t WHERE 1 = 1 ON CONFLICT (idempotency_key) DO NOTHING",
            [program.pk, ProgramRequest.Kind.ADJUST, amount, reason.strip()[:255], source, getattr(actor, "pk", None),
             key_prefix, run, ProgramRequest.Status.PENDING, now, *ids_params])
        queued = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {outbox_t} (connection_id, action, target_kind, target_id, payload, status, "  # noqa: S608
            "attempts, next_attempt_at, locked_until, claim_token, last_error, external_id, created_at, sent_at) "
            f"SELECT %s, 'bonus.request', 'bonus_request', r.id, '{{}}', %s, 0, %s, NULL, '', '', '', %s, NULL "
            f"FROM {request_t} r WHERE r.run = %s",
            [program.connection_id, Outbox.Status.PENDING, now, now, run])
    log.info("queued %s points for %s contacts in program %s (%s)", amount, queued, program.pk, key_prefix)
    return queued


def birthday_key_prefix(program: Program, year: int) -> str:
    """One birthday grant per person, program and year, whichever job grants it."""
    return f"birthday:{program.pk}:{year}:"


def bonus_grant_many(targets: QuerySet[Contact], points: Decimal | int | str, *, key_prefix: str, reason: str,
                     expiry_days: int | None = None, source: str = Entry.Source.CAMPAIGN) -> int:
    """Points to every contact in ``targets`` (a mailing's birthday or win-back bonus), once
    per key; returns how many got them now."""
    expires = timezone.now() + dt.timedelta(days=expiry_days) if expiry_days else None
    return _grant_set(targets, points, key_prefix=key_prefix, reason=reason, actor=None, program=None,
                      expires_at=expires, source=source)


def birthday_bonuses_run(rule: BirthdayBonus, today: dt.date | None = None) -> int:
    """Grant the birthday bonus to everyone whose birthday is ``days_before`` days from today
    (the venue's date). Keyed by person and year: a second run the same day grants nobody."""
    today = today or timezone.localdate()
    birthday = today + dt.timedelta(days=rule.days_before)
    targets = Contact.objects.filter(birthdays_on(birthday), merged_into__isnull=True)
    if not rule.children:
        targets = targets.exclude(category=Contact.Category.CHILD)
    expires = timezone.now() + dt.timedelta(days=rule.expiry_days) if rule.expiry_days else None
    return _grant_set(targets, rule.points, key_prefix=birthday_key_prefix(rule.program, birthday.year),
                      program=rule.program,
                      reason=f"С днём рождения! ({birthday:%d.%m.%Y})", actor=None, expires_at=expires,
                      source=Entry.Source.BIRTHDAY)
