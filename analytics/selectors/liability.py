"""What the venue owes in points: the balances of the programs the hub keeps itself, and how
much of them will burn in the next N days unless spent.

What burns is what the expiry job (loyalty.services.ledger.ledger_expire) will write off: the
part of each credit (earn, positive adjustment, refund of a redemption) not yet taken by an
allocation, on its ``expires_at`` (loyalty.selectors.credits_remaining, summed here per
program and week by the database). Credits already past their date but not yet written off
(the job runs daily) are counted as "overdue". External programs (SamoSale, UDS, MAXMA) keep
their own ledgers and are left out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from hub.services.money import money
from loyalty.models import Account, Program
from loyalty.selectors import credits_remaining

OVERDUE = 0
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Week:
    index: int  # 0: overdue, 1: the first 7 days from now, …
    start: dt.datetime | None
    end: dt.datetime


@dataclass
class ProgramLiability:
    program_id: int
    name: str
    clients: int = 0  # accounts holding points
    balance: Decimal = ZERO
    expiring: dict[int, Decimal] = field(default_factory=dict)  # week index → points

    @property
    def expiring_total(self) -> Decimal:
        return sum(self.expiring.values(), ZERO)

    @property
    def overdue(self) -> Decimal:
        return self.expiring.get(OVERDUE, ZERO)

    @property
    def staying(self) -> Decimal:
        """What stays after the horizon, if nothing is spent."""
        return self.balance - self.expiring_total


@dataclass
class Liability:
    now: dt.datetime
    days: int
    weeks: list[Week]
    programs: list[ProgramLiability]

    @property
    def is_empty(self) -> bool:
        return not any(p.balance or p.expiring_total for p in self.programs)


def weeks_ahead(now: dt.datetime, days: int) -> list[Week]:
    """Overdue, then 7-day spans from ``now`` up to ``now + days`` (the last may be shorter)."""
    horizon = now + dt.timedelta(days=days)
    weeks = [Week(OVERDUE, None, now)]
    start = now
    while start < horizon:
        end = min(start + dt.timedelta(days=7), horizon)
        weeks.append(Week(len(weeks), start, end))
        start = end
    return weeks


def _week_of(weeks: list[Week]) -> Case:
    return Case(*(When(expires_at__lte=week.end, then=Value(week.index)) for week in weeks),
                default=Value(-1), output_field=IntegerField())


def bonus_liability(*, days: int = 30, program: Program | None = None, now: dt.datetime | None = None) -> Liability:
    """Per hub-kept program: clients with points, the points on their accounts, and what will
    burn per week of the next ``days`` days; three queries."""
    now = now or timezone.now()
    weeks = weeks_ahead(now, days)
    programs = Program.objects.filter(connection__isnull=True).order_by("name", "pk")
    if program is not None:
        programs = programs.filter(pk=program.pk)
    result = {pk: ProgramLiability(pk, name) for pk, name in programs.values_list("pk", "name")}
    accounts = (Account.objects.filter(program_id__in=list(result)).values("program_id").order_by()
                .annotate(clients=Count("pk", filter=Q(balance__gt=0)),
                          balance=Coalesce(Sum("balance"), Value(Decimal(0)), output_field=DecimalField())))
    for row in accounts:
        item = result[row["program_id"]]
        item.clients, item.balance = row["clients"], money(row["balance"])
    burning = (credits_remaining().filter(account__program_id__in=list(result), expires_at__isnull=False,
                                          expires_at__lte=weeks[-1].end)
               .annotate(week=_week_of(weeks)).values("account__program_id", "week").order_by()
               .annotate(points=Sum("remaining")))
    for row in burning:
        result[row["account__program_id"]].expiring[row["week"]] = money(row["points"])
    return Liability(now=now, days=days, weeks=weeks, programs=list(result.values()))
