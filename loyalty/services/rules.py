"""Earning on a receipt: the base rate of each line (the client's level, else the nearest
category rate up the tree, else the program's), then the program's earning rules in their
order. Each rule is checked against what, where, when and whom; each says why it applied or
the first reason it did not, so a cashier can answer "why did I get these points"."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Prefetch

from hub.models import Contact, Product, ProductCategory
from hub.segments import ContactFilter, contacts_matching
from hub.services.money import money
from loyalty.models import CategoryRate, EarningRule, OfferExposure, Program, Tier
from loyalty.services.context import Line, ReceiptContext
from loyalty.services.offers import offer_group
from loyalty.services.targeting import Target

ZERO = Decimal(0)
HUNDRED = Decimal(100)
Effect = EarningRule.Effect
WEEKDAYS = {1: "пн", 2: "вт", 3: "ср", 4: "чт", 5: "пт", 6: "сб", 7: "вс"}


def category_rates(program: Program) -> dict[int, Decimal]:
    """Category id → points percent of the program (one query)."""
    return dict(CategoryRate.objects.filter(program=program).values_list("category_id", "percent"))


def base_rate(program: Program, rates: dict[int, Decimal], category: ProductCategory | None,
              ) -> tuple[Decimal, ProductCategory | None]:
    """The nearest category up the tree with a rate and that category, else the program's rate
    and None. A subcategory without its own rate earns as its parent does."""
    seen: set[int] = set()
    while category is not None and category.pk not in seen:
        if category.pk in rates:
            return rates[category.pk], category
        seen.add(category.pk)
        category = category.parent
    return program.earn_percent, None


def categories_load(products: Iterable[Product | None]) -> None:
    """Load the products' categories with all their parents (one query per tree level) and link
    them in memory, so walking up the tree (rates, ``Target.covers``) reads nothing more however
    many lines the receipt has."""
    products = [p for p in products if p is not None and p.category_id is not None]
    loaded: dict[int, ProductCategory] = {}
    wanted = {p.category_id for p in products}
    while wanted:
        rows = list(ProductCategory.objects.filter(pk__in=wanted))
        loaded.update((row.pk, row) for row in rows)
        wanted = {row.parent_id for row in rows if row.parent_id is not None} - loaded.keys()
    for category in loaded.values():
        if category.parent_id in loaded:
            category.parent = loaded[category.parent_id]
    for product in products:
        if product.category_id in loaded:
            product.category = loaded[product.category_id]


def rules_apply(ctx: ReceiptContext) -> None:
    """Set ``line.rate``/``line.points`` (on the net amount) and add the rules' bonus points,
    cashback, per-rule amounts and exposures to ``ctx``."""
    categories_load(line.product for line in ctx.lines)
    _base(ctx)
    segments: dict[int, bool] = {}
    for rule in _rules(ctx.program):
        target = Target.of(rule)
        covered = [line for line in ctx.lines if target.covers(line.product)]
        reason = _failure(ctx, rule, target, covered, segments)
        if reason is not None:
            ctx.explain("rule", rule.name, f"Не применено: {reason}.", applied=False, ref=rule.pk)
            continue
        group = offer_group(OfferExposure.Offer.RULE, rule.pk, ctx.contact.pk, rule.holdout_percent)
        ctx.exposures.append((OfferExposure.Offer.RULE, rule.pk, group))
        if group == OfferExposure.Group.CONTROL:
            ctx.explain("rule", rule.name, f"Не применено: клиент в контрольной группе ({rule.holdout_percent}% "
                                           "клиентов не получают это предложение, чтобы измерить его эффект).",
                        applied=False, ref=rule.pk)
            continue
        _effect(ctx, rule, covered, stop=rule.stop)
        if rule.stop:
            break


def _pct(value: Decimal) -> str:
    """10.00 → "10", 7.50 → "7.5"."""
    return f"{value.normalize():f}"


def _base(ctx: ReceiptContext) -> None:
    tier = ctx.tier if ctx.tier is not None and ctx.tier.earn_percent is not None else None
    rates = {} if tier is not None else category_rates(ctx.program)
    sources: dict[tuple[str, int | None], list[Line]] = {}
    names: dict[tuple[str, int | None], tuple[str, str, Decimal]] = {}
    for line in ctx.lines:
        if tier is not None:
            rate, key = tier.earn_percent, ("level", tier.pk)
            names[key] = ("level", tier.name, rate)
        else:
            rate, category = base_rate(ctx.program, rates, line.category)
            key = ("category", category.pk) if category is not None else ("program", None)
            names[key] = ("base", category.name if category is not None else ctx.program.name, rate)
        line.rate = rate
        line.points = line.net * rate / HUNDRED
        sources.setdefault(key, []).append(line)
    for key, lines in sources.items():
        source, name, rate = names[key]
        label = {"level": f"Уровень «{name}»", "category": f"Категория «{name}»", "program": "Программа"}[key[0]]
        net = money(sum((line.net for line in lines), ZERO))
        points = money(sum((line.points for line in lines), ZERO))
        ctx.explain(source, name, f"{label}: {_pct(rate)}% от {net} ₽ — {points} баллов.", ref=key[1],
                    points=points)


def _rules(program: Program) -> list[EarningRule]:
    """Active rules in order with everything their checks read (a fixed number of queries)."""
    return list(EarningRule.objects.filter(program=program, active=True).select_related("segment")
                .prefetch_related(Prefetch("products", queryset=Product.objects.only("pk")), "categories",
                                  "service_points", "tiers")
                .order_by("position", "pk"))


def _local(ctx: ReceiptContext, moment: dt.datetime) -> str:
    return f"{moment.astimezone(ctx.local.tzinfo):%d.%m.%Y %H:%M}"


def _hours_match(rule: EarningRule, hour: int) -> bool:
    start, end = rule.hour_from, rule.hour_to
    if start is None and end is None:
        return True
    if start is None:
        return hour < end
    if end is None:
        return hour >= start
    if end <= start:  # past midnight: 22 to 2 is 22:00–01:59
        return hour >= start or hour < end
    return start <= hour < end


def _hours_text(rule: EarningRule) -> str:
    parts = []
    if rule.hour_from is not None:
        parts.append(f"с {rule.hour_from:02d}:00")
    if rule.hour_to is not None:
        parts.append(f"до {rule.hour_to:02d}:00")
    return " ".join(parts)


def _names(items: Iterable[object]) -> str:
    return ", ".join(f"«{item}»" for item in items)


def birthday_near(contact: Contact, day: dt.date, days: int) -> bool:
    """``day`` is within ``days`` of the contact's birthday, across the year end; born on
    29 February: the 28th in a common year (as ``loyalty.selectors.birthdays_on``)."""
    born = contact.birth_date
    if born is None:
        return False
    for year in (day.year - 1, day.year, day.year + 1):
        month_day = 28 if born.month == 2 and born.day == 29 and not calendar.isleap(year) else born.day
        if abs((dt.date(year, born.month, month_day) - day).days) <= days:
            return True
    return False


def _in_segment(ctx: ReceiptContext, rule: EarningRule, cache: dict[int, bool]) -> bool:
    if rule.segment_id not in cache:
        members = contacts_matching(ContactFilter(segment=rule.segment), now=ctx.at)
        cache[rule.segment_id] = members.filter(pk=ctx.contact.pk).exists()
    return cache[rule.segment_id]


def _failure(ctx: ReceiptContext, rule: EarningRule, target: Target, covered: list[Line],
             segments: dict[int, bool]) -> str | None:
    """The first condition of the rule the receipt does not meet, in Russian; None: all hold."""
    local = ctx.local
    if rule.starts_at is not None and ctx.at < rule.starts_at:
        return f"действует с {_local(ctx, rule.starts_at)}"
    if rule.ends_at is not None and ctx.at >= rule.ends_at:
        return f"действовало до {_local(ctx, rule.ends_at)}"
    if rule.weekdays and str(local.isoweekday()) not in rule.weekdays:
        days = ", ".join(WEEKDAYS[int(d)] for d in sorted(set(rule.weekdays)) if d in "1234567")
        return f"только по дням недели: {days}; сейчас {WEEKDAYS[local.isoweekday()]}"
    if not _hours_match(rule, local.hour):
        return f"только {_hours_text(rule)}; сейчас {local:%H:%M}"
    points = list(rule.service_points.all())
    if points and (ctx.service_point is None or ctx.service_point.pk not in {p.pk for p in points}):
        where = f"«{ctx.service_point}»" if ctx.service_point is not None else "не указана"
        return f"только в точках {_names(points)}; точка чека {where}"
    tiers: list[Tier] = list(rule.tiers.all())
    if tiers and (ctx.tier is None or ctx.tier.pk not in {t.pk for t in tiers}):
        has = f"уровень клиента «{ctx.tier}»" if ctx.tier is not None else "у клиента нет уровня"
        return f"только для уровней {_names(tiers)}; {has}"
    if rule.segment_id is not None and not _in_segment(ctx, rule, segments):
        return f"клиент не входит в сегмент «{rule.segment}»"
    if rule.occasion == EarningRule.Occasion.BIRTHDAY:
        around = f" (±{rule.birthday_days} дн.)" if rule.birthday_days else ""
        if ctx.contact.birth_date is None:
            return "только в день рождения клиента, а дата рождения не указана"
        if not birthday_near(ctx.contact, local.date(), rule.birthday_days):
            return f"только в день рождения клиента{around}"
    if rule.occasion == EarningRule.Occasion.FIRST_PURCHASE and not ctx.first_purchase:
        return "только на первую покупку клиента, а у него уже есть покупки"
    if not covered and not (rule.effect == Effect.BONUS and target.everything):
        return f"в чеке нет позиций, на которые действует правило ({target.describe()})"
    return None


def _capped(rule: EarningRule, deltas: list[Decimal]) -> tuple[list[Decimal], bool]:
    """Scale the increases so together they add at most ``max_points``; decreases stand."""
    gain = sum((d for d in deltas if d > 0), ZERO)
    if rule.max_points is None or gain <= rule.max_points:
        return deltas, False
    scale = rule.max_points / gain
    scaled = [d * scale if d > 0 else d for d in deltas]
    last = max(i for i, d in enumerate(deltas) if d > 0)  # takes the remainder: the parts sum to the cap exactly
    scaled[last] = rule.max_points - sum((d for i, d in enumerate(scaled) if d > 0 and i != last), ZERO)
    return scaled, True


def _effect(ctx: ReceiptContext, rule: EarningRule, covered: list[Line], *, stop: bool) -> None:
    value = rule.value
    base = money(sum((line.net for line in covered), ZERO))
    cashback = ZERO
    if rule.effect == Effect.BONUS:
        added = value if rule.max_points is None else min(value, rule.max_points)
        capped = added < value
        ctx.bonus_points += added
        what = f"{money(value)} баллов за чек"
    elif rule.effect == Effect.CASHBACK_DEPOSIT:
        deltas, capped = _capped(rule, [line.net * value / HUNDRED for line in covered])
        cashback = sum(deltas, ZERO)
        ctx.cashback += cashback
        added = ZERO
        what = f"кешбэк {_pct(value)}% на депозит с {base} ₽"
    else:
        if rule.effect == Effect.RATE:
            raw = [line.net * value / HUNDRED - line.points for line in covered]
            what = f"ставка {_pct(value)}% вместо прежней на позиции на {base} ₽"
        elif rule.effect == Effect.MULTIPLY:
            raw = [line.points * (value - 1) for line in covered]
            what = f"баллы ×{_pct(value)} на позиции на {base} ₽"
        else:  # CASHBACK_POINTS
            raw = [line.net * value / HUNDRED for line in covered]
            what = f"кешбэк {_pct(value)}% баллами с {base} ₽"
        deltas, capped = _capped(rule, raw)
        for line, delta in zip(covered, deltas, strict=True):
            line.points += delta
            if rule.effect == Effect.RATE:
                line.rate = value
        added = sum(deltas, ZERO)
    if rule.effect == Effect.CASHBACK_DEPOSIT:
        ctx.rule_cashback[rule.pk] = money(cashback)
        result = f"{money(cashback)} ₽ на депозит"
    else:
        ctx.rule_points[rule.pk] = money(added)
        result = f"{money(added):+} баллов"
    text = f"{what}: {result}"
    if capped:
        text += f" (правило добавляет не больше {money(rule.max_points)} за чек)"
    if stop:
        text += ". Следующие правила не проверяются"
    ctx.explain("rule", rule.name, f"{text[0].upper()}{text[1:]}.", ref=rule.pk, points=money(added),
                money=money(cashback))
