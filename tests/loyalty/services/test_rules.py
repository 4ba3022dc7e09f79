"""Earning rules on a receipt: the base rate (level, category up the tree, program), the
effects in rule order with caps and stop, every targeting condition with the first reason it
fails, control groups, and a query count that does not grow with lines or rules."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import Contact, Product, ProductCategory, Segment, ServicePoint
from hub.services.money import money
from loyalty.models import Account, CategoryRate, EarningRule, OfferExposure, Program, Receipt, Tier
from loyalty.services.context import ReceiptContext, context_build
from loyalty.services.offers import offer_group
from loyalty.services.rules import birthday_near, rules_apply

pytestmark = pytest.mark.django_db

MOSCOW = "Europe/Moscow"
MONDAY_NOON = "2025-06-02 12:00"


def at(text: str, tz: str = MOSCOW) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


@pytest.fixture
def world() -> SimpleNamespace:
    program = Program.objects.create(code="park", name="Парк", earn_percent=Decimal(5), time_zone=MOSCOW)
    food = ProductCategory.objects.create(name="Еда")
    pizza_cat = ProductCategory.objects.create(name="Пицца", parent=food)
    drinks = ProductCategory.objects.create(name="Напитки", parent=food)
    CategoryRate.objects.create(program=program, category=food, percent=Decimal(10))
    CategoryRate.objects.create(program=program, category=drinks, percent=Decimal(3))
    products = {
        "ticket": Product.objects.create(name="Билет"),
        "pizza": Product.objects.create(name="Пицца", category=pizza_cat, kind="goods"),
        "juice": Product.objects.create(name="Сок", category=drinks, kind="goods"),
    }
    gold = Tier.objects.create(program=program, name="Золото", threshold=Decimal(1000), earn_percent=Decimal(7))
    silver = Tier.objects.create(program=program, name="Серебро", threshold=Decimal(100))
    return SimpleNamespace(
        program=program, products=products,
        categories={"food": food, "pizza": pizza_cat, "drinks": drinks},
        service_points={"a": ServicePoint.objects.create(name="Касса А"),
                        "b": ServicePoint.objects.create(name="Касса Б")},
        tiers={"gold": gold, "silver": silver},
        segments={"kids": Segment.objects.create(name="Дети", rules={"category": "child"})})


def make_rule(world: SimpleNamespace, **spec: Any) -> EarningRule:
    m2m = {name: spec.pop(name) for name in ("products", "categories", "service_points", "tiers") if name in spec}
    segment = spec.pop("segment", None)
    for name in ("starts_at", "ends_at"):
        if name in spec:
            spec[name] = at(spec[name])
    spec.setdefault("name", f"Правило {EarningRule.objects.count() + 1}")
    spec.setdefault("effect", "bonus")
    spec.setdefault("value", Decimal(10))
    rule = EarningRule.objects.create(program=world.program, segment=world.segments[segment] if segment else None,
                                      **spec)
    for name, keys in m2m.items():
        getattr(rule, name).set([getattr(world, name)[key] for key in keys])
    return rule


def receipt(world: SimpleNamespace, lines: list[tuple[str, int]] = (("ticket", 1000), ("pizza", 500)), *,
            when: dt.datetime | None = None, contact: Contact | None = None, point: str | None = None,
            tier: str | None = None) -> ReceiptContext:
    contact = contact or Contact.objects.create(first_name="Анна")
    if tier is not None:
        Account.objects.update_or_create(contact=contact, program=world.program,
                                         defaults={"tier": world.tiers[tier]})
    # a fresh product per line: its category is not loaded yet, as when lines come from a request
    return context_build(world.program, contact,
                         [(Product.objects.get(pk=world.products[key].pk), Decimal(1), Decimal(amount))
                          for key, amount in lines],
                         when or at(MONDAY_NOON), service_point=world.service_points[point] if point else None)


def rule_steps(ctx: ReceiptContext) -> list[Any]:
    return [step for step in ctx.trace if step.source == "rule"]


def points(ctx: ReceiptContext) -> Decimal:
    return money(sum((line.points for line in ctx.lines), Decimal(0)))


# --- the base rate --------------------------------------------------------------------------------------


def test_base_rate_is_the_nearest_category_up_the_tree_else_the_programs_each_explained_once(world):
    ctx = receipt(world, [("ticket", 1000), ("pizza", 500), ("pizza", 200), ("juice", 100)])
    rules_apply(ctx)
    assert [line.rate for line in ctx.lines] == [Decimal(5), Decimal(10), Decimal(10), Decimal(3)]
    assert [money(line.points) for line in ctx.lines] == [Decimal(50), Decimal(50), Decimal(20), Decimal(3)]
    assert [(s.source, s.text) for s in ctx.trace] == [
        ("base", "Программа: 5% от 1000.00 ₽ — 50.00 баллов."),
        ("base", "Категория «Еда»: 10% от 700.00 ₽ — 70.00 баллов."),  # pizza's parent, once for both lines
        ("base", "Категория «Напитки»: 3% от 100.00 ₽ — 3.00 баллов."),  # its own rate, not the parent's
    ]


def test_a_level_with_a_rate_replaces_category_and_program_rates_a_level_without_one_does_not(world):
    gold = receipt(world, [("ticket", 1000), ("pizza", 500)], tier="gold")
    rules_apply(gold)
    assert [line.rate for line in gold.lines] == [Decimal(7), Decimal(7)]
    assert [(s.source, s.text) for s in gold.trace] == [("level", "Уровень «Золото»: 7% от 1500.00 ₽ — 105.00 баллов.")]
    silver = receipt(world, [("ticket", 1000), ("pizza", 500)], tier="silver")
    rules_apply(silver)
    assert [line.rate for line in silver.lines] == [Decimal(5), Decimal(10)]


# --- effects, in order ----------------------------------------------------------------------------------

RATE10 = {"effect": "rate", "value": Decimal(10)}
TIMES2 = {"effect": "multiply", "value": Decimal(2)}


@pytest.mark.parametrize(("rules", "expected_points", "bonus", "cashback", "added"), [
    pytest.param([], 100, 0, 0, [], id="base only: 5% of 1000 + 10% of 500"),
    pytest.param([RATE10], 150, 0, 0, [50], id="rate replaces the base rate"),
    pytest.param([RATE10, TIMES2], 300, 0, 0, [50, 150], id="rate then multiplier"),
    pytest.param([TIMES2, RATE10], 150, 0, 0, [100, -50], id="multiplier then rate: the rate replaces it"),
    pytest.param([{**TIMES2, "max_points": Decimal(40)}], 140, 0, 0, [40], id="multiplier capped"),
    pytest.param([{"effect": "rate", "value": Decimal(20), "max_points": Decimal(30)}], 130, 0, 0, [30],
                 id="rate increase capped, spread over lines"),
    pytest.param([{"effect": "rate", "value": Decimal(2), "max_points": Decimal(10)}], 30, 0, 0, [-70],
                 id="a rate decrease is not capped"),
    pytest.param([{"effect": "rate", "value": Decimal(20), "categories": ["food"], "max_points": Decimal(30)}],
                 130, 0, 0, [30], id="rate on a category (subcategory line), capped"),
    pytest.param([{"effect": "cashback_points", "value": Decimal(3)}], 145, 0, 0, [45], id="cashback in points"),
    pytest.param([{**TIMES2, "stop": True}, RATE10], 200, 0, 0, [100], id="stop: later rules not evaluated"),
    pytest.param([{**RATE10, "stop": True, "ends_at": "2025-06-01 00:00"}, TIMES2], 200, 0, 0, [100],
                 id="a stop rule that does not apply does not stop"),
    pytest.param([{"effect": "bonus", "value": Decimal(100)}], 100, 100, 0, [100], id="fixed bonus per receipt"),
    pytest.param([{"effect": "bonus", "value": Decimal(100), "max_points": Decimal(40)}], 100, 40, 0, [40],
                 id="fixed bonus capped"),
    pytest.param([{"effect": "cashback_deposit", "value": Decimal(10)}], 100, 0, 150, [], id="cashback to deposit"),
    pytest.param([{"effect": "cashback_deposit", "value": Decimal(10), "max_points": Decimal(50)}], 100, 0, 50, [],
                 id="cashback to deposit capped"),
    pytest.param([{"effect": "cashback_deposit", "value": Decimal(10), "products": ["pizza"]}], 100, 0, 50, [],
                 id="cashback to deposit on one product"),
])
def test_effects_apply_in_rule_order_with_caps(world, rules, expected_points, bonus, cashback, added):
    made = [make_rule(world, position=n, **dict(spec)) for n, spec in enumerate(rules)]
    ctx = receipt(world)
    rules_apply(ctx)
    assert points(ctx) == Decimal(expected_points)
    assert (ctx.bonus_points, ctx.cashback) == (Decimal(bonus), Decimal(cashback))
    assert [ctx.rule_points[r.pk] for r in made if r.pk in ctx.rule_points] == [Decimal(a) for a in added]
    assert sum(ctx.rule_cashback.values(), Decimal(0)) == Decimal(cashback)


def test_applied_rules_explain_themselves_with_their_numbers(world):
    times2 = make_rule(world, name="Двойные выходные", position=1, stop=True, **TIMES2)
    make_rule(world, name="Не дойдёт", position=2, **RATE10)
    capped = make_rule(world, name="Кешбэк", position=0, effect="cashback_deposit", value=Decimal(10),
                       max_points=Decimal(50))
    ctx = receipt(world)
    rules_apply(ctx)
    steps = rule_steps(ctx)
    assert [(s.name, s.ref, s.applied) for s in steps] == [("Кешбэк", capped.pk, True),
                                                          ("Двойные выходные", times2.pk, True)]
    assert steps[0].text == ("Кешбэк 10% на депозит с 1500.00 ₽: 50.00 ₽ на депозит "
                             "(правило добавляет не больше 50.00 за чек).")
    assert steps[0].money == Decimal(50)
    assert steps[1].text == "Баллы ×2 на позиции на 1500.00 ₽: +100.00 баллов. Следующие правила не проверяются."
    assert steps[1].points == Decimal(100)


# --- conditions -----------------------------------------------------------------------------------------

CONDITIONS = [
    # (id, rule, scenario, applies, reason fragment)
    ("window not started", {"starts_at": "2025-06-02 12:01"}, {}, False, "действует с 02.06.2025 12:01"),
    ("window over (end excluded)", {"ends_at": "2025-06-02 12:00"}, {}, False, "действовало до 02.06.2025 12:00"),
    ("inside the window", {"starts_at": "2025-06-02 11:59", "ends_at": "2025-06-02 12:01"}, {}, True, ""),
    ("weekend rule on a Monday", {"weekdays": "67"}, {}, False, "только по дням недели: сб, вс; сейчас пн"),
    ("Monday rule on a Monday", {"weekdays": "1"}, {}, True, ""),
    ("hours 10-14 at 12:00", {"hour_from": 10, "hour_to": 14}, {}, True, ""),
    ("hours 10-14 at 14:00", {"hour_from": 10, "hour_to": 14}, {"when": "2025-06-02 14:00"}, False,
     "только с 10:00 до 14:00; сейчас 14:00"),
    ("hours 10-14 at 09:59", {"hour_from": 10, "hour_to": 14}, {"when": "2025-06-02 09:59"}, False, "с 10:00"),
    ("hours 22-2 at 23:30", {"hour_from": 22, "hour_to": 2}, {"when": "2025-06-02 23:30"}, True, ""),
    ("hours 22-2 at 01:59", {"hour_from": 22, "hour_to": 2}, {"when": "2025-06-03 01:59"}, True, ""),
    ("hours 22-2 at 02:00", {"hour_from": 22, "hour_to": 2}, {"when": "2025-06-03 02:00"}, False,
     "только с 22:00 до 02:00; сейчас 02:00"),
    ("hours 22-2 at 21:59", {"hour_from": 22, "hour_to": 2}, {"when": "2025-06-02 21:59"}, False, "сейчас 21:59"),
    ("from 18 only", {"hour_from": 18}, {"when": "2025-06-02 17:00"}, False, "только с 18:00; сейчас 17:00"),
    ("the program's time zone decides the day and hour",  # Monday 20:00 UTC is Tuesday 06:00 in Vladivostok
     {"weekdays": "2", "hour_from": 6, "hour_to": 7}, {"tz": "Asia/Vladivostok", "utc": "2025-06-02 20:00"}, True,
     ""),
    ("the same moment in Moscow is Monday 23:00", {"weekdays": "2"}, {"utc": "2025-06-02 20:00"}, False, "сейчас пн"),
    ("service point matches", {"service_points": ["a"]}, {"point": "a"}, True, ""),
    ("another service point", {"service_points": ["a"]}, {"point": "b"}, False,
     "только в точках «Касса А»; точка чека «Касса Б»"),
    ("no service point", {"service_points": ["a"]}, {}, False, "точка чека не указана"),
    ("level matches", {"tiers": ["gold"]}, {"tier": "gold"}, True, ""),
    ("another level", {"tiers": ["gold"]}, {"tier": "silver"}, False,
     "только для уровней «Золото»; уровень клиента «Серебро»"),
    ("no level", {"tiers": ["gold"]}, {}, False, "у клиента нет уровня"),
    ("in the segment", {"segment": "kids"}, {"category": "child"}, True, ""),
    ("not in the segment", {"segment": "kids"}, {}, False, "клиент не входит в сегмент «Дети»"),
    ("birthday today", {"occasion": "birthday"}, {"born": "1990-06-02"}, True, ""),
    ("birthday tomorrow, no days around", {"occasion": "birthday"}, {"born": "1990-06-03"}, False,
     "только в день рождения клиента"),
    ("birthday 31 Dec, receipt 1 Jan, ±1", {"occasion": "birthday", "birthday_days": 1},
     {"born": "1990-12-31", "when": "2026-01-01 12:00"}, True, ""),
    ("birthday 1 Jan, receipt 31 Dec, ±1", {"occasion": "birthday", "birthday_days": 1},
     {"born": "1990-01-01", "when": "2025-12-31 12:00"}, True, ""),
    ("birthday 1 Jan, receipt 30 Dec, ±1", {"occasion": "birthday", "birthday_days": 1},
     {"born": "1990-01-01", "when": "2025-12-30 12:00"}, False, "(±1 дн.)"),
    ("born 29 Feb: 28 Feb of a common year", {"occasion": "birthday"},
     {"born": "2000-02-29", "when": "2025-02-28 12:00"}, True, ""),
    ("born 29 Feb: not 28 Feb of a leap year", {"occasion": "birthday"},
     {"born": "2000-02-29", "when": "2024-02-28 12:00"}, False, "только в день рождения"),
    ("born 29 Feb: 29 Feb of a leap year", {"occasion": "birthday"},
     {"born": "2000-02-29", "when": "2024-02-29 12:00"}, True, ""),
    ("no birth date", {"occasion": "birthday", "birthday_days": 3}, {}, False, "дата рождения не указана"),
    ("first purchase", {"occasion": "first_purchase"}, {}, True, ""),
    ("not the first purchase", {"occasion": "first_purchase"}, {"earlier": True}, False, "уже есть покупки"),
    ("category covers its subcategory", {"categories": ["food"]}, {"lines": ["pizza"]}, True, ""),
    ("nothing in the category", {"categories": ["food"]}, {"lines": ["ticket"]}, False,
     "в чеке нет позиций, на которые действует правило (выбранные товары и категории)"),
    ("a product among others", {"products": ["ticket"]}, {"lines": ["pizza", "ticket"]}, True, ""),
    ("a sibling category is not covered", {"categories": ["drinks"]}, {"lines": ["pizza"]}, False,
     "нет позиций"),
    ("a fixed bonus for everything needs no lines", {}, {"lines": []}, True, ""),
    ("a multiplier needs lines", {"effect": "multiply", "value": Decimal(2)}, {"lines": []}, False, "нет позиций"),
    ("only the first failing reason", {"weekdays": "67", "hour_from": 0, "hour_to": 1}, {}, False,
     "Не применено: только по дням недели: сб, вс; сейчас пн."),  # the whole text: the hours are not reported
]


@pytest.mark.parametrize(("rule", "scenario", "applies", "reason"), [
    pytest.param(rule, scenario, applies, reason, id=name) for name, rule, scenario, applies, reason in CONDITIONS])
def test_a_rule_applies_only_when_every_condition_holds(world, rule, scenario, applies, reason):
    if "tz" in scenario:
        world.program.time_zone = scenario["tz"]
        world.program.save()
    made = make_rule(world, **dict(rule))
    contact = Contact.objects.create(first_name="Анна", category=scenario.get("category", "adult"),
                                     birth_date=dt.date.fromisoformat(scenario["born"]) if "born" in scenario else None)
    if scenario.get("earlier"):
        Receipt.objects.create(program=world.program, contact=contact, ref="earlier", at=at("2025-01-01 10:00"))
    when = (at(scenario["utc"], "UTC") if "utc" in scenario
            else at(scenario.get("when", MONDAY_NOON), scenario.get("tz", MOSCOW)))
    lines = [(key, 1000) for key in scenario.get("lines", ["ticket"])]
    ctx = receipt(world, lines, when=when, contact=contact, point=scenario.get("point"), tier=scenario.get("tier"))
    rules_apply(ctx)
    [step] = rule_steps(ctx)
    assert (step.ref, step.applied) == (made.pk, applies), step.text
    if applies:
        assert made.pk in ctx.rule_points
    else:
        assert step.text.startswith("Не применено: ") and reason in step.text
        assert made.pk not in ctx.rule_points and ctx.exposures == []


@pytest.mark.parametrize(("born", "day", "days", "near"), [
    ("1990-12-31", "2026-01-02", 2, True),
    ("1990-12-31", "2026-01-02", 1, False),
    ("1990-01-02", "2025-12-31", 2, True),
    ("2000-02-29", "2025-03-01", 1, True),  # 28 Feb in 2025
    ("2000-02-29", "2025-03-02", 1, False),
    ("2000-02-29", "2024-03-01", 1, True),  # 29 Feb in 2024
])
def test_birthday_near_across_year_ends_and_29_february(born, day, days, near):
    contact = Contact(birth_date=dt.date.fromisoformat(born))
    assert birthday_near(contact, dt.date.fromisoformat(day), days) is near


# --- control groups -------------------------------------------------------------------------------------


def test_offer_group_is_pure_and_its_control_share_tends_to_the_percent():
    groups = [offer_group("rule", 7, contact_id, 20) for contact_id in range(1, 2001)]
    assert groups == [offer_group("rule", 7, contact_id, 20) for contact_id in range(1, 2001)]
    share = groups.count(OfferExposure.Group.CONTROL) / len(groups)
    assert 0.17 <= share <= 0.23
    assert {offer_group("rule", 7, c, 0) for c in range(1, 200)} == {OfferExposure.Group.OFFERED}
    assert {offer_group("rule", 7, c, 100) for c in range(1, 200)} == {OfferExposure.Group.CONTROL}
    assert groups != [offer_group("rule", 8, contact_id, 20) for contact_id in range(1, 2001)]  # per offer


def test_the_control_group_does_not_get_the_rule_and_both_groups_are_exposed(world):
    rule = make_rule(world, effect="multiply", value=Decimal(2), holdout_percent=50)
    seen = set()
    for n in range(30):
        contact = Contact.objects.create(first_name=f"К{n}")
        ctx = receipt(world, contact=contact)
        rules_apply(ctx)
        group = offer_group("rule", rule.pk, contact.pk, 50)
        [step] = rule_steps(ctx)
        assert ctx.exposures == [("rule", rule.pk, group)]
        assert step.applied is (group == OfferExposure.Group.OFFERED)
        assert points(ctx) == (Decimal(200) if step.applied else Decimal(100))
        if not step.applied:
            assert "клиент в контрольной группе" in step.text and rule.pk not in ctx.rule_points
        seen.add(group)
    assert seen == {OfferExposure.Group.OFFERED, OfferExposure.Group.CONTROL}


def test_a_rule_without_a_control_group_is_exposed_as_offered(world):
    rule = make_rule(world)
    ctx = receipt(world)
    rules_apply(ctx)
    assert ctx.exposures == [("rule", rule.pk, OfferExposure.Group.OFFERED)]


# --- queries --------------------------------------------------------------------------------------------


def count_queries(world: SimpleNamespace, lines: int) -> int:
    keys = ["ticket", "pizza", "juice"]
    ctx = receipt(world, [(keys[n % 3], 100 + n) for n in range(lines)], point="a", tier="gold")
    with CaptureQueriesContext(connection) as queries:
        rules_apply(ctx)
    assert len(rule_steps(ctx)) == EarningRule.objects.count()
    return len(queries)


def test_the_query_count_does_not_grow_with_lines_or_rules(world):
    def rules(count: int) -> None:
        for n in range(count):
            make_rule(world, effect="multiply", value=Decimal("1.1"), categories=["food"], products=["ticket"],
                      service_points=["a"], tiers=["gold", "silver"], weekdays="12345", position=n)

    rules(2)
    few = count_queries(world, 3)
    assert count_queries(world, 30) == few
    rules(6)
    assert count_queries(world, 30) == few
