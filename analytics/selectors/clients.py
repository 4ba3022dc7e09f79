"""Clients to win back and clients to congratulate: who has not visited for N days (counts per
how long ago, and the list), whose birthday falls in a month (counts per day, and the list).
Merged duplicates (``merged_into`` set) are never counted: their survivor is."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce, ExtractDay, Greatest
from django.utils import timezone

from hub.models import Contact, ContactRelation

#: how long ago, in days, the lapsed buckets start (those below the asked N are dropped)
EDGES = (30, 60, 90, 180, 365, 730)
ANY, PASS, PURCHASE = "any", "pass", "purchase"


@dataclass(frozen=True)
class Tally:
    key: int
    label: str
    count: int


def _last_visit(basis: str) -> F | Greatest:
    """The last pass, the last purchase, or the later of the two. SQLite's two-argument MAX is
    NULL when either is, so each side falls back to the other (PostgreSQL would skip NULLs)."""
    if basis == PASS:
        return F("last_pass_at")
    if basis == PURCHASE:
        return F("last_purchase_at")
    return Greatest(Coalesce("last_pass_at", "last_purchase_at"), Coalesce("last_purchase_at", "last_pass_at"))


def _people(category: str | None) -> QuerySet[Contact]:
    rows = Contact.objects.filter(merged_into__isnull=True)
    if category in (Contact.Category.ADULT, Contact.Category.CHILD):
        rows = rows.filter(category=category)
    return rows


def lapsed_contacts(days: int, *, basis: str = ANY, category: str | None = None,
                    now: dt.datetime | None = None) -> QuerySet[Contact]:
    """Clients whose last visit was at least ``days`` days before ``now``, the most recently
    lapsed first (annotated ``last_visit``); clients who never visited are not lapsed."""
    now = now or timezone.now()
    return (_people(category).annotate(last_visit=_last_visit(basis))
            .filter(last_visit__isnull=False, last_visit__lte=now - dt.timedelta(days=days))
            .order_by("-last_visit", "pk"))


def _bucket_label(start: int, end: int | None) -> str:
    return f"{start}+ дн." if end is None else f"{start}–{end - 1} дн."


def lapsed_buckets(days: int, *, basis: str = ANY, category: str | None = None,
                   now: dt.datetime | None = None) -> list[Tally]:
    """How many lapsed clients last visited how long ago: from ``days`` up to the next edge
    (60, 90, 180 days, a year, two years) and beyond the last one; one query."""
    now = now or timezone.now()
    starts = [days, *(edge for edge in EDGES if edge > days)]
    spans = list(zip(starts, [*starts[1:], None], strict=True))
    counts = {}
    for i, (start, end) in enumerate(spans):
        match = Q(last_visit__lte=now - dt.timedelta(days=start))
        if end is not None:
            match &= Q(last_visit__gt=now - dt.timedelta(days=end))
        counts[f"b{i}"] = Count("pk", filter=match)
    found = (_people(category).annotate(last_visit=_last_visit(basis)).filter(last_visit__isnull=False)
             .aggregate(**counts))
    return [Tally(start, _bucket_label(start, end), found[f"b{i}"] or 0) for i, (start, end) in enumerate(spans)]


def birthday_contacts(month: int, *, category: str | None = None) -> QuerySet[Contact]:
    """Clients born in ``month`` by day, then name; each child with its parents (one more query)."""
    parents = Prefetch("parent_links", queryset=ContactRelation.objects.select_related("parent").order_by("pk"))
    return (_people(category).filter(birth_date__month=month).annotate(day=ExtractDay("birth_date"))
            .order_by("day", "last_name", "first_name", "pk").prefetch_related(parents))


def birthday_days(month: dt.date, *, category: str | None = None) -> list[Tally]:
    """Birthdays per day of ``month`` (every day, zeros too; 29 February in any February: those
    born on it celebrate in a common year too); one query."""
    found = dict(_people(category).filter(birth_date__month=month.month).annotate(day=ExtractDay("birth_date"))
                 .values("day").annotate(n=Count("pk")).order_by().values_list("day", "n"))
    days = 29 if month.month == 2 else calendar.monthrange(month.year, month.month)[1]
    return [Tally(day, f"{day}", found.get(day, 0)) for day in range(1, days + 1)]
