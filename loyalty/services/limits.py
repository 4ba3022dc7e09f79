"""Purchase limits per client: how many receipts, items or roubles of something one client may
buy in a day, week, month or the last N days (days, weeks and months in the program's time
zone). Over the limit the receipt is refused with what was bought and what this one adds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum

from hub.selectors import category_subtree, category_tree
from hub.services.money import money
from loyalty.models import PurchaseLimit, Receipt, ReceiptLine
from loyalty.services.context import ZERO, Line, ReceiptContext
from loyalty.services.promos import number, plural, rub
from loyalty.services.targeting import Target

AMOUNT = DecimalField(max_digits=14, decimal_places=2)


def period_start(limit: PurchaseLimit, ctx: ReceiptContext) -> dt.datetime:
    """Where the limit's period began for a receipt at ``ctx.at``: local midnight, Monday 00:00,
    the 1st 00:00, or ``days`` back from the receipt."""
    if limit.period == PurchaseLimit.Period.ROLLING:
        return ctx.at - dt.timedelta(days=limit.days or 1)
    local = ctx.local
    day = local.date()
    if limit.period == PurchaseLimit.Period.WEEK:
        day -= dt.timedelta(days=day.weekday())
    elif limit.period == PurchaseLimit.Period.MONTH:
        day = day.replace(day=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=local.tzinfo)


def _covered_q(target: Target, tree: set[int]) -> Q:
    """History lines under the same target, in SQL (a line without its own category falls
    back to its product's)."""
    if target.everything:
        return Q()
    q = Q(product_id__in=target.products) if target.products else Q()
    if tree:
        q |= Q(category_id__in=tree) | Q(category__isnull=True, product__category_id__in=tree)
    return q


def _this(limit: PurchaseLimit, covered: list[Line]) -> Decimal:
    if limit.measure == PurchaseLimit.Measure.RECEIPTS:
        return Decimal(1)
    if limit.measure == PurchaseLimit.Measure.QUANTITY:
        return sum((line.quantity for line in covered), ZERO)
    return money(sum((line.net for line in covered), ZERO))


def _unit(limit: PurchaseLimit) -> Callable[[Decimal], str]:
    if limit.measure == PurchaseLimit.Measure.RECEIPTS:
        return lambda n: f"{number(n)} {plural(n, ('чек', 'чека', 'чеков'))}"
    if limit.measure == PurchaseLimit.Measure.QUANTITY:
        return lambda n: f"{number(n)} шт."
    return rub


def _period(limit: PurchaseLimit) -> str:
    if limit.period == PurchaseLimit.Period.ROLLING:
        days = limit.days or 1
        return f"за {days} {plural(days, ('день', 'дня', 'дней'))}"
    return {PurchaseLimit.Period.DAY: "в день", PurchaseLimit.Period.WEEK: "в неделю",
            PurchaseLimit.Period.MONTH: "в месяц"}[limit.period]


def limits_check(ctx: ReceiptContext) -> None:
    """Each active limit the receipt has lines under: its history in the period (paid receipts
    of this client, this order's own earlier rows left out) plus this receipt, against the cap.
    All limits are counted in one query."""
    limits = list(PurchaseLimit.objects.filter(program=ctx.program, active=True)
                  .prefetch_related("products", "categories").order_by("pk"))
    checks: list[tuple[PurchaseLimit, Target, list[Line], dt.datetime]] = []
    for limit in limits:
        target = Target.of(limit)
        covered = [line for line in ctx.lines if target.covers(line.product)]
        if covered:
            checks.append((limit, target, covered, period_start(limit, ctx)))
    if not checks:
        return
    children = category_tree() if any(target.categories for _, target, _, _ in checks) else {}
    history = ReceiptLine.objects.filter(
        receipt__program=ctx.program, receipt__contact=ctx.contact, receipt__status=Receipt.Status.PAID,
        receipt__at__gte=min(start for *_, start in checks), receipt__at__lte=ctx.at)
    if ctx.ref:
        history = history.exclude(receipt__ref=ctx.ref)
    measures = {}
    for limit, target, _, start in checks:
        q = Q(receipt__at__gte=start) & _covered_q(target, category_subtree(target.categories, children))
        if limit.measure == PurchaseLimit.Measure.RECEIPTS:
            measures[f"l{limit.pk}"] = Count("receipt", distinct=True, filter=q)
        elif limit.measure == PurchaseLimit.Measure.QUANTITY:
            measures[f"l{limit.pk}"] = Sum("quantity", filter=q)
        else:
            measures[f"l{limit.pk}"] = Sum(F("amount") - F("discount"), filter=q, output_field=AMOUNT)
    used_by = history.aggregate(**measures)
    for limit, _, covered, _ in checks:
        used = Decimal(used_by[f"l{limit.pk}"] or 0)
        this = _this(limit, covered)
        unit, period, cap = _unit(limit), _period(limit), limit.max_value
        if used + this > cap:
            if limit.measure == PurchaseLimit.Measure.RECEIPTS:
                adds = f"этот был бы {number(used + 1)}-м"
            else:
                adds = f"в этом чеке {unit(this)}"
            reason = f"Лимит «{limit.name}»: максимум {unit(cap)} {period}. Уже было {unit(used)}, {adds}"
            ctx.refuse("limit", str(limit.pk), reason if reason.endswith(".") else reason + ".")
        else:
            ctx.explain("limit", limit.name,
                        f"Лимит «{limit.name}»: в пределах лимита — максимум {unit(cap)} {period}, "
                        f"уже было {unit(used)}, с этим чеком {unit(used + this)}".rstrip(".") + ".",
                        applied=True, ref=limit.pk)
