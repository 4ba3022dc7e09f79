"""Bonus ledger writes. Every write locks the account row, so concurrent redemptions queue
instead of overdrawing; every write has an idempotency key, so a retried request is the same
entry, not a second one. Spending takes the earliest-expiring spendable points first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from hub.models import Contact
from hub.services.contacts import contact_publish
from hub.services.money import money
from loyalty.models import Account, Allocation, Entry, Program
from loyalty.selectors import CREDIT_KINDS, credits_with_remaining, spendable_credits


class InsufficientPoints(ValidationError):
    def __init__(self, available: Decimal, wanted: Decimal) -> None:
        available, wanted = money(available), money(wanted)
        self.available, self.wanted = available, wanted
        super().__init__(f"Недостаточно баллов: доступно {available}, нужно {wanted}.", code="insufficient_points")


def program_default() -> Program:
    program, _ = Program.objects.get_or_create(code="main", defaults={"name": "Бонусная программа"})
    return program


def _own_ledger(program: Program) -> None:
    if program.connection_id is not None:
        raise ValidationError(f"Баллы программы «{program}» ведёт внешняя программа: изменения идут через неё.")


def account_lock(contact: Contact, program: Program) -> Account:
    """The contact's account in the program, created if new, locked for this transaction."""
    try:
        with transaction.atomic():
            Account.objects.get_or_create(contact=contact, program=program)
    except IntegrityError:  # created by a concurrent write: it exists now
        pass
    return Account.objects.select_for_update().get(contact=contact, program=program)


def _points(value: Decimal | int | str) -> Decimal:
    points = money(value)  # refuses what is not an amount ("abc", "nan")
    if points <= 0:
        raise ValidationError({"points": "Количество баллов должно быть больше нуля."})
    return points


def _replay(key: str, account: Account, points: Decimal) -> Entry | None:
    """A key seen before returns its entry; the same key for something else is refused."""
    entry = Entry.objects.filter(idempotency_key=key).first()
    if entry is not None and (entry.account_id != account.pk or entry.points != points):
        raise ValidationError({"idempotency_key": f"Ключ {key!r} уже использован для другой операции."})
    return entry


def _take(debit: Entry, credits: list[Entry], amount: Decimal) -> None:
    left = amount
    allocations = []
    for credit in credits:
        if left <= 0:
            break
        part = min(left, money(credit.remaining))
        allocations.append(Allocation(debit=debit, credit=credit, points=part))
        left -= part
    Allocation.objects.bulk_create(allocations)


def _apply(account: Account, delta: Decimal) -> None:
    # Rounded in SQL: SQLite adds in floating point, and 0.1 + 0.2 - 0.3 is not 0 there.
    account.balance = Round(F("balance") + delta, 2)
    account.save(update_fields=["balance", "updated_at"])
    account.refresh_from_db(fields=["balance"])


def _write(account: Account, *, kind: str, points: Decimal, reason: str, source: str, key: str,
           actor: object = None, source_ref: str = "", expires_at: dt.datetime | None = None,
           available_at: dt.datetime | None = None, reverses: Entry | None = None) -> Entry:
    if not reason.strip():
        raise ValidationError({"reason": "Укажите причину."})
    return Entry.objects.create(account=account, kind=kind, points=points, reason=reason.strip()[:255],
                                source=source, source_ref=source_ref, actor=actor, idempotency_key=key,
                                expires_at=expires_at, available_at=available_at, reverses=reverses)


def ledger_earn(contact: Contact, points: Decimal | int | str, *, reason: str, source: str, idempotency_key: str,
                program: Program | None = None, actor: object = None, source_ref: str = "",
                expires_at: dt.datetime | None = None, available_at: dt.datetime | None = None,
                now: dt.datetime | None = None) -> Entry:
    """Points in. Expiry and the returns lock default to the program's settings."""
    program = program or program_default()
    _own_ledger(program)
    amount, now = _points(points), now or timezone.now()
    with transaction.atomic():
        account = account_lock(contact, program)
        if (seen := _replay(idempotency_key, account, amount)) is not None:
            return seen
        if expires_at is None and program.expiry_days:
            expires_at = now + dt.timedelta(days=program.expiry_days)
        if available_at is None and program.lock_days:
            available_at = now + dt.timedelta(days=program.lock_days)
        entry = _write(account, kind=Entry.Kind.EARN, points=amount, reason=reason, source=source,
                       key=idempotency_key, actor=actor, source_ref=source_ref, expires_at=expires_at,
                       available_at=available_at)
        _apply(account, amount)
        contact_publish(contact)
    return entry


def _debit(contact: Contact, amount: Decimal, *, kind: str, reason: str, source: str, key: str,
           program: Program | None, actor: object, source_ref: str, now: dt.datetime | None,
           include_locked: bool) -> Entry:
    program, now = program or program_default(), now or timezone.now()
    _own_ledger(program)
    with transaction.atomic():
        account = account_lock(contact, program)
        if (seen := _replay(key, account, -amount)) is not None:
            return seen
        credits = spendable_credits(account, now, include_locked)
        available = money(sum((c.remaining for c in credits), Decimal(0)))
        if amount > available:
            raise InsufficientPoints(available, amount)
        entry = _write(account, kind=kind, points=-amount, reason=reason, source=source, key=key, actor=actor,
                       source_ref=source_ref)
        _take(entry, credits, amount)
        _apply(account, -amount)
        contact_publish(contact)
    return entry


def ledger_redeem(contact: Contact, points: Decimal | int | str, *, reason: str, source: str, idempotency_key: str,
                  program: Program | None = None, actor: object = None, source_ref: str = "",
                  now: dt.datetime | None = None) -> Entry:
    """Points out, earliest-expiring first; never more than the spendable balance."""
    return _debit(contact, _points(points), kind=Entry.Kind.REDEEM, reason=reason, source=source,
                  key=idempotency_key, program=program, actor=actor, source_ref=source_ref, now=now,
                  include_locked=False)


def ledger_adjust(contact: Contact, points: Decimal | int | str, *, reason: str, idempotency_key: str,
                  actor: object = None, source: str = Entry.Source.MANUAL, program: Program | None = None,
                  now: dt.datetime | None = None) -> Entry:
    """A manager's correction: positive grants (with the program's expiry, spendable at once),
    negative deducts (also from points still locked for returns)."""
    value = money(points)
    if value == 0:
        raise ValidationError({"points": "Количество баллов не может быть нулём."})
    if value > 0:
        program, now = program or program_default(), now or timezone.now()
        _own_ledger(program)
        expires = now + dt.timedelta(days=program.expiry_days) if program.expiry_days else None
        with transaction.atomic():
            account = account_lock(contact, program)
            if (seen := _replay(idempotency_key, account, value)) is not None:
                return seen
            entry = _write(account, kind=Entry.Kind.ADJUST, points=value, reason=reason, source=source,
                           key=idempotency_key, actor=actor, expires_at=expires)
            _apply(account, value)
            contact_publish(contact)
        return entry
    return _debit(contact, -value, kind=Entry.Kind.ADJUST, reason=reason, source=source, key=idempotency_key,
                  program=program, actor=actor, source_ref="", now=now, include_locked=True)


def ledger_refund(original_key: str, *, reason: str, idempotency_key: str, actor: object = None) -> Entry | None:
    """Undo an entry after a return: an earn loses what is left of its points (points already
    spent stay spent); a redemption gives its points back with the expiry they had."""
    with transaction.atomic():
        original = Entry.objects.select_related("account__contact").filter(idempotency_key=original_key).first()
        if original is None:
            raise ValidationError({"original": f"Нет операции с ключом {original_key!r}."})
        account = Account.objects.select_for_update().get(pk=original.account_id)
        seen = Entry.objects.filter(idempotency_key=idempotency_key).first()
        if seen is not None:
            return seen
        if original.points > 0:
            left = credits_with_remaining(account).filter(pk=original.pk).first()
            if left is None:
                return None  # nothing of it is left to take back
            left.remaining = money(left.remaining)  # SQLite computes it in floating point
            entry = _write(account, kind=Entry.Kind.REFUND, points=-left.remaining, reason=reason,
                           source=original.source, key=idempotency_key, actor=actor, reverses=original,
                           source_ref=original.source_ref)
            _take(entry, [left], left.remaining)
            _apply(account, -left.remaining)
        else:
            expiry = max((a.credit.expires_at for a in original.takes.select_related("credit")
                          if a.credit.expires_at), default=None)
            entry = _write(account, kind=Entry.Kind.REFUND, points=-original.points, reason=reason,
                           source=original.source, key=idempotency_key, actor=actor, reverses=original,
                           source_ref=original.source_ref, expires_at=expiry)
            _apply(account, -original.points)
        contact_publish(original.account.contact)
    return entry


def ledger_expire(now: dt.datetime | None = None) -> int:
    """Write an expiry entry for every credit whose time has come with points left. Run
    daily; a second run the same day finds nothing left to expire."""
    now = now or timezone.now()
    due = (Entry.objects.filter(kind__in=CREDIT_KINDS, points__gt=0, expires_at__lte=now,
                                account__program__connection__isnull=True)  # programs expire their own
           .annotate(used=Coalesce(Sum("taken__points"), Value(Decimal(0)), output_field=DecimalField()))
           .filter(points__gt=F("used")).values_list("account_id", flat=True).distinct())
    written = 0
    for account_id in list(due):
        with transaction.atomic():
            account = Account.objects.select_for_update().select_related("contact").get(pk=account_id)
            for credit in credits_with_remaining(account).filter(expires_at__lte=now).order_by("expires_at", "pk"):
                credit.remaining = money(credit.remaining)  # SQLite computes it in floating point
                entry = _write(account, kind=Entry.Kind.EXPIRE, points=-credit.remaining, key=f"expire:{credit.pk}",
                               reason=f"Сгорели баллы от {timezone.localtime(credit.created_at):%d.%m.%Y}",
                               source=Entry.Source.SYSTEM)
                _take(entry, [credit], credit.remaining)
                _apply(account, -credit.remaining)
                written += 1
            contact_publish(account.contact)
    return written


def ledger_mirror(account: Account, points: Decimal, *, kind: str, reason: str, key: str, source: str,
                  source_ref: str = "", actor: object = None) -> tuple[Entry, bool]:
    """Write what an external program reports (it is the ledger of record, its word is not
    checked against ours). A debit our mirror cannot cover is preceded by a correction, so
    the cached balance never goes below zero. Call inside a transaction with ``account``
    locked. Returns (entry, created)."""
    value = money(points)
    if (seen := _replay(key, account, value)) is not None:
        return seen, False
    if value < 0:
        account.refresh_from_db(fields=["balance"])
        if -value > account.balance:
            ledger_mirror(account, -value - account.balance, kind=Entry.Kind.ADJUST, source=Entry.Source.SYSTEM,
                          key=f"{key}:cover", reason=f"Сверка с программой: не хватало {-value - account.balance}")
    entry = _write(account, kind=kind, points=value, reason=reason or "—", source=source, key=key, actor=actor,
                   source_ref=source_ref)
    if value < 0:
        _take(entry, list(credits_with_remaining(account).order_by(F("expires_at").asc(nulls_last=True),
                                                                   "created_at", "pk")), -value)
    _apply(account, value)
    return entry, True


def ledger_verify(account: Account) -> tuple[Decimal, Decimal]:
    """(cached balance, sum of entries): they must be equal."""
    total = account.entries.aggregate(total=Coalesce(Sum("points"), Value(Decimal(0)),
                                                     output_field=DecimalField()))["total"]
    account.refresh_from_db(fields=["balance"])
    return account.balance, money(total)

