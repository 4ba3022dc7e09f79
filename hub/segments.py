"""Contact selection by filters an operator composes: used by mass accruals and saved as
segments (mailings reuse both). Reads only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone

from hub.models import (
    Connection,
    Contact,
    ContactRelation,
    CrmDealState,
    ExternalRef,
    Purchase,
    Segment,
)
from hub.selectors import category_subtree

DECIMAL_RULES = ("spend_from", "spend_to", "bonus_from", "bonus_to")


def years_ago(today: dt.date, years: int) -> dt.date:
    """The same day ``years`` back (29 February → 28 February in a common year)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


@dataclass
class ContactFilter:
    """Empty fields do not filter; all given ones must hold."""

    category: str = ""
    birth_month: int | None = None
    not_visited_days: int | None = None  # no pass for N days (or never)
    visited_within_days: int | None = None
    tags: list[str] = field(default_factory=list)  # any of these tags
    child_age_from: int | None = None  # has a child of this age (full years)…
    child_age_to: int | None = None
    spend_from: Decimal | None = None  # purchases in total, ever
    spend_to: Decimal | None = None
    bonus_from: Decimal | None = None  # bonus balance, all programs
    bonus_to: Decimal | None = None
    segment: Segment | None = None  # and the saved segment's rules
    deal_connection: Connection | None = None  # contacts of CRM deals…
    deal_pipeline: str = ""  # …in this pipeline
    deal_stage: str = ""  # …and stage
    deal_from: dt.date | None = None  # …last seen changing in this date range
    deal_to: dt.date | None = None
    lifecycle: str = ""  # a Stage value: the stage the daily job last computed
    bought_category: int | None = None  # bought from this product category or its subcategories…
    bought_within_days: int | None = None  # …in the last N days (empty: ever)

    def to_rules(self) -> dict[str, Any]:
        """JSON for a saved segment (a segment inside a segment is not kept)."""
        rules: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "segment" or value in (None, "", []):
                continue
            if isinstance(value, Connection):
                value = value.pk
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            rules[item.name] = value
        return rules

    @classmethod
    def from_rules(cls, rules: dict[str, Any]) -> ContactFilter:
        spec = cls()
        known = {item.name for item in fields(cls)} - {"segment"}
        for name, value in (rules or {}).items():
            if name not in known:
                continue
            if name == "deal_connection":
                value = Connection.objects.filter(pk=value).first()
            elif name in ("deal_from", "deal_to") and value:
                value = dt.date.fromisoformat(str(value))
            elif name in DECIMAL_RULES and value not in (None, ""):
                value = Decimal(str(value))
            setattr(spec, name, value)
        return spec


MONEY = DecimalField(max_digits=14, decimal_places=2)


def _between(rows: QuerySet[Contact], name: str, low: Decimal | None, high: Decimal | None) -> QuerySet[Contact]:
    if low is not None:
        rows = rows.filter(**{f"{name}__gte": low})
    if high is not None:
        rows = rows.filter(**{f"{name}__lte": high})
    return rows


def contacts_matching(spec: ContactFilter, now: dt.datetime | None = None) -> QuerySet[Contact]:
    now = now or timezone.now()
    rows = Contact.objects.filter(merged_into__isnull=True)
    if spec.segment is not None:
        rows = rows.filter(pk__in=contacts_matching(ContactFilter.from_rules(spec.segment.rules), now).values("pk"))
    if spec.category:
        rows = rows.filter(category=spec.category)
    if spec.birth_month:
        rows = rows.filter(birth_date__month=spec.birth_month)
    if spec.not_visited_days is not None:
        cutoff = now - dt.timedelta(days=spec.not_visited_days)
        rows = rows.filter(Q(last_pass_at__isnull=True) | Q(last_pass_at__lt=cutoff))
    if spec.visited_within_days is not None:
        rows = rows.filter(last_pass_at__gte=now - dt.timedelta(days=spec.visited_within_days))
    if spec.tags:
        rows = rows.filter(pk__in=Contact.tags.through.objects.filter(tag__name__in=spec.tags).values("contact_id"))
    if spec.child_age_from is not None or spec.child_age_to is not None:
        today = timezone.localdate(now)
        kids = Contact.objects.filter(birth_date__isnull=False)
        if spec.child_age_from is not None:  # born on or before the day they turned that age
            kids = kids.filter(birth_date__lte=years_ago(today, spec.child_age_from))
        if spec.child_age_to is not None:  # not yet a year older than that
            kids = kids.filter(birth_date__gt=years_ago(today, spec.child_age_to + 1))
        rows = rows.filter(pk__in=ContactRelation.objects.filter(child__in=kids).values("parent_id"))
    if spec.spend_from is not None or spec.spend_to is not None:
        spent = (Purchase.objects.filter(contact=OuterRef("pk")).values("contact")
                 .annotate(total=Sum("total")).values("total"))
        rows = rows.annotate(spend=Coalesce(Subquery(spent), Value(Decimal(0)), output_field=MONEY))
        rows = _between(rows, "spend", spec.spend_from, spec.spend_to)
    if spec.bonus_from is not None or spec.bonus_to is not None:
        from loyalty.selectors import contact_points_total  # the core reads balances; loyalty builds on it

        rows = rows.annotate(bonus=Coalesce(contact_points_total(), Value(Decimal(0)), output_field=MONEY))
        rows = _between(rows, "bonus", spec.bonus_from, spec.bonus_to)
    if spec.lifecycle:
        rows = rows.filter(lifecycle__stage=spec.lifecycle)
    if spec.bought_category is not None:
        bought = Purchase.objects.filter(status=Purchase.Status.PAID, contact__isnull=False,
                                         lines__product__category__in=category_subtree([spec.bought_category]))
        if spec.bought_within_days is not None:
            bought = bought.filter(purchased_at__gte=now - dt.timedelta(days=spec.bought_within_days))
        rows = rows.filter(pk__in=bought.values("contact_id"))
    if spec.deal_connection is not None:
        deals = CrmDealState.objects.filter(connection=spec.deal_connection)
        if spec.deal_pipeline:
            deals = deals.filter(pipeline_id=spec.deal_pipeline)
        if spec.deal_stage:
            deals = deals.filter(stage_id=spec.deal_stage)
        if spec.deal_from:
            deals = deals.filter(updated_at__date__gte=spec.deal_from)
        if spec.deal_to:
            deals = deals.filter(updated_at__date__lte=spec.deal_to)
        their = deals.annotate(their_contact=KT("data__contact_id")).values("their_contact")
        rows = rows.filter(pk__in=ExternalRef.objects.filter(connection=spec.deal_connection, kind="contact",
                                                             external_id__in=their).values("local_id"))
    return rows
