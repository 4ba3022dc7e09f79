"""Levels: a client's level follows what they earned (or spent) in the program's rolling
window, not their balance. A promotion is at once (after each receipt); a downgrade only by
the daily check, once the client has stayed below their level for the grace period, so a
quiet month does not cost a level. Every change is kept as a TierChange."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import CharField, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone

from hub.selectors import category_subtree
from hub.services.money import money
from loyalty.models import Account, Entry, Program, Receipt, ReceiptLine, Tier, TierChange
from loyalty.services.ledger import account_lock

ZERO = Decimal(0)
SUM = DecimalField(max_digits=16, decimal_places=2)


def _window(program: Program, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return now - dt.timedelta(days=program.tier_window_days), now


def _earned(program: Program, now: dt.datetime) -> QuerySet[Entry]:
    """Points earned in the window. An earn a refund reversed counts nothing, nor does the earn
    of a refunded receipt (found by its reference) when all its points were spent and there was
    nothing left to reverse: a returned purchase must not keep its level."""
    start, end = _window(program, now)
    reversed_ = Entry.objects.filter(reverses=OuterRef("pk"), kind=Entry.Kind.REFUND, created_at__lte=end)
    as_purchase = Concat(Value("purchase:"), OuterRef("source_ref"), output_field=CharField())
    refunded = Receipt.objects.filter(
        Q(ref=OuterRef("source_ref")) | Q(ref=as_purchase),
        program=program, contact_id=OuterRef("account__contact_id"), status=Receipt.Status.REFUNDED)
    return (Entry.objects.filter(account__program=program, kind=Entry.Kind.EARN, points__gt=0,
                                 created_at__gte=start, created_at__lte=end)
            .filter(~Exists(reversed_))
            .filter(~(Q(source=Entry.Source.PURCHASE) & Exists(refunded))))


def _spent(program: Program, now: dt.datetime, subtree: set[int] | None) -> QuerySet[ReceiptLine]:
    """Lines of paid receipts in the window, of the product type and category the levels count."""
    start, end = _window(program, now)
    rows = ReceiptLine.objects.filter(receipt__program=program, receipt__status=Receipt.Status.PAID,
                                      receipt__at__gte=start, receipt__at__lte=end)
    if program.tier_product_kind:
        rows = rows.filter(product__kind=program.tier_product_kind)
    if subtree is not None:
        rows = rows.filter(category_id__in=subtree)
    return rows


def _subtree(program: Program) -> set[int] | None:
    return category_subtree([program.tier_category_id]) if program.tier_category_id is not None else None


def _total(rows: QuerySet[Any], expression: Any) -> Decimal:
    return money(rows.aggregate(total=Coalesce(Sum(expression, output_field=SUM), Value(ZERO), output_field=SUM))
                 ["total"])


NET = F("amount") - F("discount")


def tier_metric(account: Account, now: dt.datetime | None = None) -> Decimal:
    """Points earned (or money spent) in the program's window ending ``now``."""
    now = now or timezone.now()
    program = account.program
    if program.tier_metric == "spend":
        return _total(_spent(program, now, _subtree(program)).filter(receipt__contact_id=account.contact_id), NET)
    return _total(_earned(program, now).filter(account=account), "points")


def _metrics(program: Program, now: dt.datetime) -> dict[str, dict[int, Decimal]]:
    """Every account's metric in one aggregate query: {"account": {id: v}} or {"contact": {id: v}}."""
    if program.tier_metric == "spend":
        rows = (_spent(program, now, _subtree(program)).values("receipt__contact_id")
                .annotate(total=Sum(NET, output_field=SUM)).values_list("receipt__contact_id", "total"))
        return {"contact": dict(rows)}
    rows = _earned(program, now).values("account_id").annotate(total=Sum("points")).values_list("account_id", "total")
    return {"account": dict(rows)}


def _pick(tiers: list[Tier], value: Decimal) -> Tier | None:
    """``tiers`` ordered by threshold."""
    found = None
    for tier in tiers:
        if tier.threshold <= value:
            found = tier
    return found


def tier_for(program: Program, value: Decimal) -> Tier | None:
    """The highest level whose threshold ``value`` reaches."""
    return program.tiers.filter(threshold__lte=value).order_by("-threshold").first()


def tier_redeem_share(program: Program, tier: Tier | None) -> Decimal:
    """The share of an order payable by points, %: the level's if it sets one."""
    if tier is not None and tier.max_redeem_share is not None:
        return tier.max_redeem_share
    return program.max_redeem_share


def _above(a: Tier | None, b: Tier | None) -> bool:
    return a is not None and (b is None or a.threshold > b.threshold)


@dataclass(frozen=True)
class Plan:
    tier: Tier | None
    below_since: dt.datetime | None
    reason: str = ""  # set: the level changes


def _describe(program: Program, value: Decimal) -> str:
    if program.tier_metric == "spend":
        return f"за {program.tier_window_days} дн. покупок на {money(value)} ₽"
    return f"за {program.tier_window_days} дн. начислено {money(value)} баллов"


def _plan(program: Program, current: Tier | None, below_since: dt.datetime | None, value: Decimal,
          tiers: list[Tier], now: dt.datetime, daily: bool, undo: bool = False) -> Plan:
    """What the level and the grace clock become; the one place the rule is written."""
    target = _pick(tiers, value)
    if _above(target, current):
        return Plan(target, None, f"Повышение до уровня «{target}»: {_describe(program, value)}, "
                                  f"порог {money(target.threshold)}.")
    if not _above(current, target):  # the same level
        return Plan(current, None)
    if undo:  # a refund takes back a level it gave: no grace for what was never kept
        head = f"Понижение до уровня «{target}»" if target is not None else f"Уровень «{current}» снят"
        return Plan(target, None, f"{head} после возврата: {_describe(program, value)}.")
    if not daily:  # below the level: only the daily check counts the grace period
        return Plan(current, below_since)
    since = below_since or now
    if now - since < dt.timedelta(days=program.tier_grace_days):
        return Plan(current, since)
    head = f"Понижение до уровня «{target}»" if target is not None else f"Уровень «{current}» снят"
    return Plan(target, None, f"{head}: {_describe(program, value)}, ниже порога уровня «{current}» "
                              f"({money(current.threshold)}) {program.tier_grace_days} дн. и дольше.")


def _recompute(account_id: int, program: Program, tiers: list[Tier], now: dt.datetime,
               daily: bool, undo: bool = False) -> TierChange | None:
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        account.program = program
        current = next((t for t in tiers if t.pk == account.tier_id), None)
        value = tier_metric(account, now)
        plan = _plan(program, current, account.tier_below_since, value, tiers, now, daily, undo)
        fields = ["tier_value", "tier_below_since", "updated_at"]
        account.tier_value, account.tier_below_since = value, plan.below_since
        change = None
        if plan.reason:
            account.tier, account.tier_since = plan.tier, now
            fields += ["tier", "tier_since"]
            change = TierChange.objects.create(account=account, from_tier=current, to_tier=plan.tier, value=value,
                                               reason=plan.reason[:255], changed_at=now)
        account.save(update_fields=fields)
    return change


def tier_recompute(account: Account, now: dt.datetime | None = None, *, daily: bool = False,
                   undo: bool = False) -> TierChange | None:
    """Recompute the client's level under the account's lock; promote at once, downgrade only
    from the daily check after the grace period. Programs with an external ledger are skipped."""
    program = account.program
    if program.connection_id is not None:
        return None
    return _recompute(account.pk, program, list(program.tiers.order_by("threshold")), now or timezone.now(), daily,
                      undo)


def on_receipt_changed(sender: Any, receipt: Receipt, **kwargs: Any) -> None:
    """A confirmed receipt may raise the level now; a refunded one takes back at once a level
    the client no longer reaches (other falls wait for the daily check and its grace)."""
    program = receipt.program
    if program.connection_id is not None or not program.tiers.exists():
        return
    with transaction.atomic():
        account = account_lock(receipt.contact, program)
        tier_recompute(account, undo=receipt.status == Receipt.Status.REFUNDED)


def tiers_daily(now: dt.datetime | None = None) -> int:
    """Every account of every active program that keeps its own points and has levels: metrics
    come from one aggregate query per program; only accounts whose level or grace clock
    changes are locked and recomputed, the rest only get their stored metric refreshed.
    Returns how many clients changed level."""
    now = now or timezone.now()
    changed = 0
    programs = Program.objects.filter(active=True, connection__isnull=True).filter(
        Exists(Tier.objects.filter(program=OuterRef("pk"))))
    for program in programs:
        tiers = list(program.tiers.order_by("threshold"))
        by_id = {tier.pk: tier for tier in tiers}
        metrics = _metrics(program, now)
        due: list[int] = []
        stale: list[Account] = []
        accounts = (Account.objects.filter(program=program)
                    .values_list("pk", "contact_id", "tier_id", "tier_below_since", "tier_value"))
        for pk, contact_id, tier_id, below_since, stored in accounts.iterator(chunk_size=5000):
            value = money(metrics["contact"].get(contact_id, ZERO) if "contact" in metrics
                          else metrics["account"].get(pk, ZERO))
            current = by_id.get(tier_id) if tier_id is not None else None
            plan = _plan(program, current, below_since, value, tiers, now, daily=True)
            if plan.reason or plan.below_since != below_since:
                due.append(pk)
            elif value != stored:
                stale.append(Account(pk=pk, tier_value=value))
        Account.objects.bulk_update(stale, ["tier_value"], batch_size=1000)
        for pk in due:
            if _recompute(pk, program, tiers, now, daily=True) is not None:
                changed += 1
    return changed
