"""Loyalty reads: whose birthday it is, and what a client holds (balance and recent history,
for cards, bots and the cabinet)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from hub.models import Contact
from hub.services.money import money
from loyalty.models import Account, Allocation, Entry, Program

CREDIT_KINDS = (Entry.Kind.EARN, Entry.Kind.ADJUST, Entry.Kind.REFUND)
POINTS = DecimalField(max_digits=14, decimal_places=2)


def credits_remaining() -> QuerySet[Entry]:
    """Every credit with points not yet taken by redemptions, expiries or refunds, annotated
    ``remaining``. A subquery per row rather than a join: callers group it further (per
    program and week for the liability report) or filter it to one account."""
    taken = Subquery(Allocation.objects.filter(credit=OuterRef("pk")).values("credit").annotate(s=Sum("points"))
                     .values("s"), output_field=POINTS)
    return (Entry.objects.filter(kind__in=CREDIT_KINDS, points__gt=0)
            .annotate(remaining=ExpressionWrapper(F("points") - Coalesce(taken, Value(Decimal(0)), output_field=POINTS),
                                                  output_field=POINTS))
            # SQLite subtracts in floating point (0.80 - 0.70 - 0.10 is 1e-16, not 0): compare
            # against half a cent, and read the result back as a 2-place Decimal.
            .filter(remaining__gte=Decimal("0.005")))


def credits_with_remaining(account: Account) -> QuerySet[Entry]:
    return credits_remaining().filter(account=account)


def spendable_credits(account: Account, now: dt.datetime, include_locked: bool = False) -> list[Entry]:
    rows = credits_with_remaining(account).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    if not include_locked:
        rows = rows.filter(Q(available_at__isnull=True) | Q(available_at__lte=now))
    return list(rows.order_by(F("expires_at").asc(nulls_last=True), "created_at", "pk"))


def birthdays_on(day: dt.date) -> Q:
    """Born on ``day``'s month and day; on 28 February of a common year also those born on
    29 February (their birthday that year)."""
    match = Q(birth_date__month=day.month, birth_date__day=day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        match |= Q(birth_date__month=2, birth_date__day=29)
    return match


@dataclass(frozen=True)
class Balance:
    total: Decimal
    expiring_30_days: Decimal


def contact_points_total() -> Subquery:
    """Each contact's points over all programs, as a subquery on ``OuterRef("pk")`` of contacts
    (segment filters and message texts read it for many contacts at once)."""
    return Subquery(Account.objects.filter(contact=OuterRef("pk")).values("contact")
                    .annotate(total=Sum("balance")).values("total"))


def balances_of(contact_ids: list[int]) -> dict[int, Decimal]:
    """Points over all programs for these contacts (absent: no account yet, 0)."""
    rows = (Contact.objects.filter(pk__in=contact_ids)
            .annotate(points=Coalesce(contact_points_total(), Value(Decimal(0)), output_field=POINTS))
            .values_list("pk", "points"))
    return dict(rows)


def balance_for(contact: Contact, program: Program | None = None, now: dt.datetime | None = None) -> Balance:
    now = now or timezone.now()
    accounts = Account.objects.filter(contact=contact, **({"program": program} if program else {}))
    total = accounts.aggregate(total=Coalesce(Sum("balance"), Value(Decimal(0)), output_field=DecimalField()))
    soon = now + dt.timedelta(days=30)
    expiring = Decimal(0)
    for account in accounts.select_related("program"):
        if account.program.connection_id is not None:  # the program's own word, from the last sync
            expiring += sum((money(item.get("points")) for item in account.expiring or []
                             if str(item.get("date", "")) <= soon.date().isoformat()), Decimal(0))
        else:
            expiring += money(sum((c.remaining for c in credits_with_remaining(account)
                                   .filter(expires_at__gt=now, expires_at__lte=soon)), Decimal(0)))
    return Balance(total=total["total"], expiring_30_days=expiring)


def history_for(contact: Contact, limit: int = 10) -> list[Entry]:
    return list(Entry.objects.filter(account__contact=contact).order_by("-created_at", "-pk")[:limit])


def spendable_points(contact: Contact, program: Program, now: dt.datetime | None = None) -> Decimal:
    """What can be paid with now: not expired, not locked for returns."""
    account = Account.objects.filter(contact=contact, program=program).first()
    if account is None:
        return Decimal(0)
    return money(sum((c.remaining for c in spendable_credits(account, now or timezone.now())), Decimal(0)))
