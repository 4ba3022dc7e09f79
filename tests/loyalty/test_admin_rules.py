"""Earning rules and levels in the admin: the rule form refuses settings that could never work
with a readable reason, rules are reordered in the list, levels are edited on their
program, and the level history is read-only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from hub.models import Contact, Product, ProductCategory, ServicePoint
from loyalty.admin.rules import EarningRuleForm
from loyalty.models import Account, EarningRule, Program, Tier, TierChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def program() -> Program:
    return Program.objects.create(code="park", name="Парк")


@pytest.fixture
def gold(program: Program) -> Tier:
    return Tier.objects.create(program=program, name="Золото", threshold=Decimal(1000))


def form_data(program: Program, **changes: Any) -> dict[str, Any]:
    data = {"program": program.pk, "name": "Двойные баллы", "position": 10, "active": "on", "effect": "multiply",
            "value": "2", "max_points": "", "weekdays": "", "hour_from": "", "hour_to": "", "starts_at": "",
            "ends_at": "", "occasion": "any", "birthday_days": 0, "holdout_percent": 0}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize(("changes", "field", "code"), [
    ({"weekdays": "08"}, "weekdays", "weekdays"),
    ({"weekdays": "1,6"}, "weekdays", "weekdays"),
    ({"hour_from": 25}, "hour_from", "hour"),
    ({"hour_to": 30}, "hour_to", "hour"),
    ({"hour_from": 10, "hour_to": 10}, "hour_to", "hours_equal"),
    ({"starts_at": "2025-06-02 10:00", "ends_at": "2025-06-01 10:00"}, "ends_at", "window"),
    ({"starts_at": "2025-06-02 10:00", "ends_at": "2025-06-02 10:00"}, "ends_at", "window"),
    ({"effect": "rate", "value": "0"}, "value", "value"),
    ({"effect": "bonus", "value": "-5"}, "value", "value"),
    ({"effect": "multiply", "value": "0"}, "value", "multiplier"),
    ({"effect": "rate", "value": "150"}, "value", "percent"),
    ({"effect": "cashback_points", "value": "100.01"}, "value", "percent"),
    ({"effect": "cashback_deposit", "value": "101"}, "value", "percent"),
    ({"max_points": "0"}, "max_points", "max_points"),
    ({"holdout_percent": 101}, "holdout_percent", "percent"),
])
def test_the_rule_form_refuses_settings_that_cannot_work(program, changes, field, code):
    form = EarningRuleForm(data=form_data(program, **changes))
    assert not form.is_valid()
    assert form.has_error(field, code), form.errors.as_data()
    assert list(form.errors) == [field]  # one readable error, on the field it concerns


@pytest.mark.parametrize("changes", [
    {"weekdays": "76"}, {"hour_from": 22, "hour_to": 2}, {"hour_from": 0, "hour_to": 24}, {"hour_from": 18},
    {"effect": "multiply", "value": "150"}, {"effect": "rate", "value": "100"}, {"effect": "bonus", "value": "500"},
    {"starts_at": "2025-06-01 10:00", "ends_at": "2025-06-02 10:00"}, {"holdout_percent": 100},
])
def test_the_rule_form_accepts_sensible_settings(program, changes):
    form = EarningRuleForm(data=form_data(program, **changes))
    assert form.is_valid(), form.errors.as_data()
    if "weekdays" in changes:
        assert form.cleaned_data["weekdays"] == "67"


def test_the_rule_form_refuses_levels_of_another_program(program, gold):
    other = Program.objects.create(code="other", name="Другая")
    foreign = Tier.objects.create(program=other, name="Платина", threshold=Decimal(5000))
    form = EarningRuleForm(data={**form_data(program), "tiers": [gold.pk, foreign.pk]})
    assert not form.is_valid() and form.has_error("tiers", "tiers")
    assert "Платина" in str(form.errors["tiers"]) and "Золото" not in str(form.errors["tiers"])
    assert EarningRuleForm(data={**form_data(program), "tiers": [gold.pk]}).is_valid()


def test_a_rule_is_created_in_the_admin_with_its_targets(admin_client, program, gold):
    food = ProductCategory.objects.create(name="Еда")
    ticket = Product.objects.create(name="Билет")
    point = ServicePoint.objects.create(name="Касса А")
    page = admin_client.get(reverse("admin:loyalty_earningrule_add"))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<fieldset class="module') == 6  # main, effect, what, where and when, whom, control group
    for field in ("effect", "products", "categories", "service_points", "weekdays", "hour_from", "starts_at_0",
                  "tiers", "segment", "occasion", "birthday_days", "holdout_percent"):
        assert f'name="{field}"' in html
    answer = admin_client.post(reverse("admin:loyalty_earningrule_add"), form_data(
        program, categories=[food.pk], products=[ticket.pk], service_points=[point.pk], tiers=[gold.pk],
        weekdays="67", hour_from=10, hour_to=14))
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    rule = EarningRule.objects.get()
    assert ([c.name for c in rule.categories.all()], [p.name for p in rule.products.all()],
            [s.name for s in rule.service_points.all()], [t.name for t in rule.tiers.all()]) == (
        ["Еда"], ["Билет"], ["Касса А"], ["Золото"])
    refused = admin_client.post(reverse("admin:loyalty_earningrule_add"), form_data(program, weekdays="9"))
    assert refused.status_code == 200 and "errorlist" in refused.content.decode()
    assert EarningRule.objects.count() == 1
    assert admin_client.get(reverse("admin:loyalty_earningrule_change", args=[rule.pk])).status_code == 200


def test_rules_are_reordered_in_the_list(admin_client, program):
    first = EarningRule.objects.create(program=program, name="Первое", effect="bonus", value=10, position=1)
    second = EarningRule.objects.create(program=program, name="Второе", effect="bonus", value=10, position=2)
    url = reverse("admin:loyalty_earningrule_changelist")
    page = admin_client.get(url)
    assert page.status_code == 200 and page.content.decode().index("Первое") < page.content.decode().index("Второе")
    answer = admin_client.post(url, {"form-TOTAL_FORMS": 2, "form-INITIAL_FORMS": 2, "form-0-id": second.pk,
                                     "form-0-position": 1, "form-1-id": first.pk, "form-1-position": 5,
                                     "_save": "Save"})
    assert answer.status_code == 302
    assert list(EarningRule.objects.order_by("position").values_list("name", flat=True)) == ["Второе", "Первое"]


def program_post(program: Program, tiers: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": program.name, "code": program.code, "active": "on", "connection": "", "earn_percent": "5",
        "max_redeem_share": "50", "expiry_days": "", "lock_days": "0", "time_zone": "Europe/Moscow",
        "tier_metric": "spend", "tier_window_days": "180", "tier_grace_days": "14", "tier_product_kind": "ticket",
        "tier_category": "", "tiers-TOTAL_FORMS": len(tiers), "tiers-INITIAL_FORMS": 0, "tiers-MIN_NUM_FORMS": 0,
        "tiers-MAX_NUM_FORMS": 1000}
    for n, tier in enumerate(tiers):
        data.update({f"tiers-{n}-{key}": value for key, value in tier.items()})
    data.update(changes)
    return data


def test_levels_are_edited_on_their_program(admin_client, program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    page = admin_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and 'name="tiers-TOTAL_FORMS"' in html and 'name="tier_grace_days"' in html
    assert admin_client.get(reverse("admin:loyalty_program_add")).status_code == 200
    assert admin_client.get(reverse("admin:loyalty_program_changelist")).status_code == 200
    answer = admin_client.post(url, program_post(program, [
        {"name": "Серебро", "threshold": "10000", "earn_percent": "", "max_redeem_share": "", "privileges": ""},
        {"name": "Золото", "threshold": "50000", "earn_percent": "7", "max_redeem_share": "70",
         "privileges": "Проход без очереди"}]))
    assert answer.status_code == 302
    program.refresh_from_db()
    assert (program.tier_metric, program.tier_window_days, program.tier_grace_days, program.tier_product_kind) == (
        "spend", 180, 14, "ticket")
    assert list(program.tiers.values_list("name", "threshold", "earn_percent", "max_redeem_share")) == [
        ("Серебро", Decimal(10000), None, None), ("Золото", Decimal(50000), Decimal(7), Decimal(70))]
    twice = admin_client.post(url, program_post(program, [
        {"name": "Бронза", "threshold": "1", "earn_percent": "", "max_redeem_share": "", "privileges": ""},
        {"name": "Бронза", "threshold": "2", "earn_percent": "", "max_redeem_share": "", "privileges": ""}],
        **{"tiers-INITIAL_FORMS": 0}))
    assert twice.status_code == 200 and program.tiers.count() == 2  # two levels of one name are refused


def test_the_level_history_and_account_levels_are_shown_read_only(admin_client, program, gold):
    anna = Contact.objects.create(first_name="Анна")
    account = Account.objects.create(contact=anna, program=program, tier=gold, tier_value=Decimal("1234.50"))
    TierChange.objects.create(account=account, from_tier=None, to_tier=gold, value=Decimal("1234.50"),
                              reason="Повышение до уровня «Золото»", changed_at=timezone.now())
    changes = admin_client.get(reverse("admin:loyalty_tierchange_changelist"))
    assert changes.status_code == 200 and "Повышение до уровня «Золото»" in changes.content.decode()
    assert admin_client.get(reverse("admin:loyalty_tierchange_add")).status_code == 403
    accounts = admin_client.get(reverse("admin:loyalty_account_changelist"))
    assert accounts.status_code == 200 and "1234.50" in accounts.content.decode().replace(",", ".")
    assert "Золото" in accounts.content.decode()
    detail = admin_client.get(reverse("admin:loyalty_account_change", args=[account.pk]))
    assert detail.status_code == 200 and "Повышение до уровня «Золото»" in detail.content.decode()
