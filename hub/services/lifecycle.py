"""Lifecycle stages: where each client is (new, active, lapsing, lost, returned), decided
daily from their purchases and passes under the operator's thresholds, so segments and
mailings can pick "lapsing" or "returned" clients without each computing it again.

Semantics (all "for N days" mean days 0 … N-1 counted in whole local days, so at exactly N
days the client moves on):

- activity is a paid purchase (``Purchase.contact``) or a pass where the client passed or
  paid (``Pass.contact`` / ``Pass.payer`` — a parent bringing the children is active);
  refunded purchases do not count, so the rows are read, not ``Contact.last_purchase_at``
  (a refund leaves that field where it was);
- a client with no activity ever counts from joining (``created_at``): a sign-up is a
  contact with the business, so they are NEW, then ACTIVE, LAPSING and LOST like others;
- recency decides first: LOST from ``lost_after_days`` since the last activity, LAPSING
  from ``lapsing_after_days``;
- NEW while the first activity (or joining) is less than ``new_days`` ago;
- RETURNED: only a LOST client who is recent again (a LAPSING one coming back is simply
  ACTIVE — they were not gone yet); it lasts ``returned_days`` from that return activity;
- otherwise ACTIVE.

"Today" is the hub's local date (settings.TIME_ZONE, Europe/Moscow by default), like the
other daily jobs; merged contacts (``merged_into`` set) are skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import NamedTuple, Protocol

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from hub.models import ClientLifecycle, Contact, LifecycleChange, LifecyclePolicy, Pass, Purchase, Segment, Stage
from hub.segments import ContactFilter, contacts_matching

log = logging.getLogger(__name__)

CHUNK = 2000  # contacts per round: a handful of aggregate queries each, whatever the chunk holds
BATCH = 500  # rows per bulk INSERT/UPDATE statement


class Thresholds(Protocol):
    new_days: int
    lapsing_after_days: int
    lost_after_days: int
    returned_days: int


class StageDecision(NamedTuple):
    stage: str
    since: dt.date


def lifecycle_policy() -> LifecyclePolicy:
    """The single thresholds row, created with the defaults on first use."""
    policy = LifecyclePolicy.objects.order_by("pk").first()
    return policy or LifecyclePolicy.objects.create()


def lifecycle_stage(
    *,
    first_activity: dt.date | None,
    last_activity: dt.date | None,
    joined: dt.date,
    previous: str = "",
    previous_since: dt.date | None = None,
    today: dt.date,
    policy: Thresholds,
) -> StageDecision:
    """The client's stage today and the day it began (a pure function of local dates).

    ``since`` is kept while the stage stays; a new stage starts today, except RETURNED,
    which starts on the return activity's day (its length counts from that visit).
    """
    last = last_activity or joined
    first = first_activity or joined
    away = (today - last).days
    if away >= policy.lost_after_days:
        stage = Stage.LOST
    elif away >= policy.lapsing_after_days:
        stage = Stage.LAPSING
    elif (today - first).days < policy.new_days:
        stage = Stage.NEW
    elif previous == Stage.LOST and last_activity is not None:
        return StageDecision(Stage.RETURNED, min(last_activity, today))
    elif (previous == Stage.RETURNED and previous_since is not None
          and (today - previous_since).days < policy.returned_days):
        stage = Stage.RETURNED
    else:
        stage = Stage.ACTIVE
    if stage == previous and previous_since is not None:
        return StageDecision(stage, previous_since)
    return StageDecision(stage, today)


def lifecycle_forget(contact: Contact) -> None:
    """Drop the stage of a contact about to be merged away: the lifecycle row is one per
    contact, so moving it onto the survivor would clash with the survivor's own; the daily
    job recomputes the survivor from the joined history (its change log moves with it)."""
    ClientLifecycle.objects.filter(contact=contact).delete()


def _local_date(value: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(value) if value is not None else None


def _activity(lo: int, hi: int) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    """(first, last) activity of every contact with a pk in [lo, hi]: three grouped queries."""
    spans: dict[int, tuple[dt.datetime, dt.datetime]] = {}
    sources = (
        Purchase.objects.filter(status=Purchase.Status.PAID, contact_id__gte=lo, contact_id__lte=hi)
        .values_list("contact_id").annotate(first=Min("purchased_at"), last=Max("purchased_at")),
        Pass.objects.filter(contact_id__gte=lo, contact_id__lte=hi)
        .values_list("contact_id").annotate(first=Min("passed_at"), last=Max("passed_at")),
        Pass.objects.filter(payer_id__gte=lo, payer_id__lte=hi)
        .values_list("payer_id").annotate(first=Min("passed_at"), last=Max("passed_at")),
    )
    for rows in sources:
        for pk, first, last in rows.order_by():
            known = spans.get(pk)
            spans[pk] = (min(first, known[0]), max(last, known[1])) if known else (first, last)
    return spans


def _chunk(rows: list[tuple[int, dt.datetime]], today: dt.date, policy: LifecyclePolicy) -> int:
    """Decide and write the stages of one chunk of contacts (pk, created_at), ordered by pk."""
    lo, hi = rows[0][0], rows[-1][0]
    spans = _activity(lo, hi)
    current = {row.contact_id: row for row in ClientLifecycle.objects.filter(contact_id__gte=lo, contact_id__lte=hi)}
    writes: list[ClientLifecycle] = []  # new rows and changed ones, upserted by contact
    log_rows: list[LifecycleChange] = []
    for pk, created_at in rows:
        first_at, last_at = spans.get(pk, (None, None))
        row = current.get(pk)
        decision = lifecycle_stage(
            first_activity=_local_date(first_at), last_activity=_local_date(last_at),
            joined=timezone.localdate(created_at), previous=row.stage if row else "",
            previous_since=row.since if row else None, today=today, policy=policy)
        if row is not None and (row.stage, row.since, row.last_activity_at) == (decision.stage, decision.since,
                                                                                last_at):
            continue
        writes.append(ClientLifecycle(contact_id=pk, stage=decision.stage, since=decision.since,
                                      last_activity_at=last_at, computed_on=today))
        if row is None or row.stage != decision.stage:
            log_rows.append(LifecycleChange(contact_id=pk, from_stage=row.stage if row else "",
                                            to_stage=decision.stage, changed_on=today))
    with transaction.atomic():
        ClientLifecycle.objects.filter(contact_id__gte=lo, contact_id__lte=hi,
                                       contact__merged_into__isnull=True).update(computed_on=today)
        # INSERT … ON CONFLICT (contact) DO UPDATE: one statement per batch on SQLite and
        # PostgreSQL alike, where bulk_update's CASE per row is slow for tens of thousands.
        ClientLifecycle.objects.bulk_create(writes, batch_size=BATCH, update_conflicts=True, unique_fields=["contact"],
                                            update_fields=["stage", "since", "last_activity_at", "computed_on"])
        LifecycleChange.objects.bulk_create(log_rows, batch_size=BATCH)
    return len(log_rows)


def segments_count(today: dt.date, now: dt.datetime | None = None) -> int:
    """Store every segment's size as of today: the segment list shows it without counting
    every segment live on each page view."""
    segments = list(Segment.objects.all())
    for segment in segments:
        size = contacts_matching(ContactFilter(segment=segment), now).count()
        Segment.objects.filter(pk=segment.pk).update(size=size, counted_on=today)
    return len(segments)


def lifecycle_daily(today: dt.date | None = None) -> int:
    """Every unmerged contact's stage for ``today`` (default: the local date), in chunks of
    contacts with aggregate queries and bulk writes; then every segment's size. Returns the
    number of stage changes (a first stage counts as a change from nothing); a second run
    the same day changes nothing."""
    now = timezone.now()
    today = today or timezone.localdate(now)
    policy = lifecycle_policy()
    changes = 0
    after = 0
    while True:
        rows = list(Contact.objects.filter(merged_into__isnull=True, pk__gt=after).order_by("pk")
                    .values_list("pk", "created_at")[:CHUNK])
        if not rows:
            break
        changes += _chunk(rows, today, policy)
        after = rows[-1][0]
    segments_count(today, now)
    log.info("lifecycle: %d stage changes", changes)
    return changes
