"""Promo codes on a receipt: every reason a code is refused, what an accepted code gives (exact
to the cent, on what is left of each line, in the order typed), the caps (a repeated confirm of
the same order does not count itself, a refund gives the use back), and personal coupons issued
to a segment with a control group held back."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from hub.models import Contact, Product, ProductCategory
from loyalty.models import OfferExposure, PromoCode, PromoUse, Receipt
from loyalty.services.context import Line, context_build
from loyalty.services.ledger import program_default
from loyalty.services.offers import offer_group
from loyalty.services.promos import (
    COUPON_ALPHABET,
    _split,
    codes_normalize,
    coupons_issue,
    promos_apply,
    promos_record,
    promos_release,
)

D = Decimal
AT = dt.datetime(2025, 6, 15, 9, 0, tzinfo=dt.UTC)  # 12:00 in Moscow


def nb(text: str) -> str:
    return text.replace("\u00a0", " ")


@pytest.fixture
def program(db):
    return program_default()


@pytest.fixture
def people(db):
    return {name: Contact.objects.create(first_name=name) for name in ("anna", "oleg", "ivan")}


@pytest.fixture
def shop(db):
    food = ProductCategory.objects.create(name="Еда")
    pizzas = ProductCategory.objects.create(name="Пицца", parent=food)
    drinks = ProductCategory.objects.create(name="Напитки")
    return {
        "food": food, "drinks": drinks, "gifts": ProductCategory.objects.create(name="Сувениры"),
        "ticket": Product.objects.create(name="Билет"),
        "pizza": Product.objects.create(name="Маргарита", category=pizzas),
        "cola": Product.objects.create(name="Кола", category=drinks),
        "cake": Product.objects.create(name="Торт"),
    }


def make_promo(program, code="SALE", *, products=(), categories=(), **fields):
    fields.setdefault("discount_percent", D(10))
    promo = PromoCode.objects.create(program=program, code=code, name="Акция", **fields)
    promo.products.set(products)
    promo.categories.set(categories)
    return promo


def build(program, contact, lines, *, at=AT, ref="R-1"):
    return context_build(program, contact, [(product, D(qty), D(amount)) for product, qty, amount in lines], at,
                         ref=ref)


def prior_use(promo, contact, ref, *, cancelled=False):
    receipt = Receipt.objects.create(program=promo.program, contact=contact, ref=ref, at=AT - dt.timedelta(days=1))
    return PromoUse.objects.create(promo=promo, receipt=receipt, contact=contact, cancelled=cancelled)


def test_codes_are_normalised_before_anything():
    assert codes_normalize([" sale ", "", "Sale", "  ", "vip", "SALE"]) == ["SALE", "VIP"]


REFUSALS = [
    # (case, promo fields, earlier uses (who, ref, cancelled), codes typed, the reason shown)
    ("unknown", {}, [], ["nope"], "Промокод «NOPE» не найден."),
    ("inactive", {"active": False}, [], ["sale"], "Промокод «SALE» отключён."),
    ("not yet: the date is in Moscow time", {"valid_from": AT + dt.timedelta(hours=1)}, [], ["SALE"],
     "Промокод «SALE» действует с 15.06.2025 13:00."),
    ("expired", {"valid_until": AT - dt.timedelta(days=1, minutes=30)}, [], ["SALE"],
     "Срок действия промокода «SALE» закончился 14.06.2025 11:30."),
    ("somebody else's coupon", {"contact": "oleg"}, [], ["SALE"],
     "Промокод «SALE» — персональный купон другого клиента."),
    ("single-use, used", {"max_uses": 1}, [("oleg", "X-1", False)], ["SALE"],
     "Промокод «SALE» одноразовый и уже использован."),
    ("global cap reached", {"max_uses": 2}, [("oleg", "X-1", False), ("ivan", "X-2", False)], ["SALE"],
     "Промокод «SALE» уже использован 2 раза — это предел."),
    ("once per client, used", {"max_uses_per_client": 1}, [("anna", "X-1", False)], ["SALE"],
     "Клиент уже использовал промокод «SALE», а его можно применить только один раз."),
    ("per-client cap reached", {"max_uses_per_client": 2}, [("anna", "X-1", False), ("anna", "X-2", False)],
     ["SALE"], "Клиент уже использовал промокод «SALE» 2 раза, можно не больше 2."),
    ("minimum receipt", {"min_total": D(5000)}, [], ["SALE"],
     "Промокод «SALE» действует при сумме чека от 5 000 ₽, в чеке 1 500 ₽."),
    ("no line it applies to", {"products": ["cola"]}, [], ["SALE"],
     "Промокод «SALE» действует только на «Кола» — таких позиций в чеке нет."),
    ("no line, more than 3 targets", {"products": ["cola", "cake"], "categories": ["gifts", "drinks"]}, [],
     ["SALE"], "Промокод «SALE» действует только на «Кола», «Торт», «Напитки» и ещё 1 — таких позиций в чеке нет."),
    ("not combinable with another code", {"combinable": False}, [], ["SALE", "OTHER"],
     "Промокод «SALE» не суммируется с другими промокодами."),
]


@pytest.mark.parametrize(("case", "fields", "uses", "codes", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refusal_has_its_own_reason(program, people, shop, case, fields, uses, codes, reason):
    fields = dict(fields)
    if "contact" in fields:
        fields["contact"] = people[fields["contact"]]
    targets = {"products": [shop[p] for p in fields.pop("products", [])],
               "categories": [shop[c] for c in fields.pop("categories", [])]}
    promo = make_promo(program, **targets, **fields)
    for who, ref, cancelled in uses:
        prior_use(promo, people[who], ref, cancelled=cancelled)
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000), (shop["pizza"], 1, 500)])
    promos_apply(ctx, codes)
    refusal = next(r for r in ctx.refusals if r.ref == codes_normalize(codes)[0])
    assert (refusal.kind, nb(refusal.reason)) == ("promo", reason)
    assert ctx.promos == [] and ctx.discount == 0 and ctx.combinable
    step = next(s for s in ctx.trace if s.name == refusal.ref)
    assert step.applied is False and nb(step.text) == reason


def test_a_cancelled_use_and_the_same_order_confirmed_again_do_not_count(program, people, shop):
    promo = make_promo(program, max_uses=1, max_uses_per_client=1)
    prior_use(promo, people["oleg"], "X-1", cancelled=True)  # refunded: the use came back
    prior_use(promo, people["anna"], "R-1")  # this very order, confirmed before
    again = build(program, people["anna"], [(shop["ticket"], 1, 1000)], ref="R-1")
    promos_apply(again, ["SALE"])
    assert again.refusals == [] and again.discount == D(100)
    other = build(program, people["anna"], [(shop["ticket"], 1, 1000)], ref="R-2")
    promos_apply(other, ["SALE"])
    assert "одноразовый" in other.refusals[0].reason


def test_a_same_ref_in_another_program_still_counts(program, people, shop):
    from loyalty.models import Program

    other_program = Program.objects.create(code="kids", name="Детский клуб")
    promo = make_promo(program, max_uses=1)
    receipt = Receipt.objects.create(program=other_program, contact=people["oleg"], ref="R-1", at=AT)
    PromoUse.objects.create(promo=promo, receipt=receipt, contact=people["oleg"])
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)], ref="R-1")
    promos_apply(ctx, ["SALE"])
    assert "одноразовый" in ctx.refusals[0].reason


def test_validity_window_edges_are_inclusive(program, people, shop):
    make_promo(program, valid_from=AT, valid_until=AT)
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(ctx, ["SALE"])
    assert ctx.refusals == [] and ctx.discount == D(100)


EFFECTS = [
    # (case, promo fields, lines (product, amount), discount per line, bonus points)
    ("percent on every line, rounded half up", {"discount_percent": D(10)},
     [("ticket", "1000"), ("cola", "555.55")], ["100.00", "55.56"], "0"),
    ("percent on one product only", {"discount_percent": D(20), "products": ["pizza"]},
     [("ticket", "1000"), ("pizza", "500")], ["0", "100.00"], "0"),
    ("percent by a parent category covers its subcategory", {"discount_percent": D(50), "categories": ["food"]},
     [("pizza", "700"), ("cola", "300"), ("ticket", "100")], ["350.00", "0", "0"], "0"),
    ("amount split evenly, the odd cent to the first", {"discount_percent": None, "discount_amount": D(100)},
     [("ticket", "100"), ("cola", "100"), ("cake", "100")], ["33.34", "33.33", "33.33"], "0"),
    ("amount split by net, exact cents", {"discount_percent": None, "discount_amount": D("10.00")},
     [("ticket", "33.33"), ("cola", "33.33"), ("cake", "33.34")], ["3.33", "3.33", "3.34"], "0"),
    ("amount in proportion", {"discount_percent": None, "discount_amount": D(300)},
     [("ticket", "1000"), ("cola", "500")], ["200.00", "100.00"], "0"),
    ("amount never above the net", {"discount_percent": None, "discount_amount": D(500)},
     [("ticket", "100"), ("cola", "50.50")], ["100.00", "50.50"], "0"),
    ("amount only on covered lines", {"discount_percent": None, "discount_amount": D(100), "products": ["cola"]},
     [("ticket", "1000"), ("cola", "300")], ["0", "100.00"], "0"),
    ("percent, then the amount on what is left", {"discount_percent": D(10), "discount_amount": D(100)},
     [("ticket", "1000"), ("cola", "500")], ["166.67", "83.33"], "0"),
    ("bonus points only", {"discount_percent": None, "bonus_points": D(150)},
     [("ticket", "1000")], ["0"], "150.00"),
    ("everything at once", {"discount_percent": D(5), "bonus_points": D(20)},
     [("ticket", "200")], ["10.00"], "20.00"),
]


@pytest.mark.parametrize(("case", "fields", "lines", "discounts", "points"), EFFECTS, ids=[e[0] for e in EFFECTS])
def test_what_an_accepted_code_gives(program, people, shop, case, fields, lines, discounts, points):
    fields = dict(fields)
    targets = {"products": [shop[p] for p in fields.pop("products", [])],
               "categories": [shop[c] for c in fields.pop("categories", [])]}
    promo = make_promo(program, **targets, **fields)
    ctx = build(program, people["anna"], [(shop[p], 1, amount) for p, amount in lines])
    promos_apply(ctx, ["sale"])
    assert ctx.refusals == []
    assert [line.discount for line in ctx.lines] == [D(d) for d in discounts]
    assert ctx.bonus_points == D(points)
    [applied] = ctx.promos
    assert (applied.promo, applied.discount, applied.points) == (promo, sum(D(d) for d in discounts), D(points))
    step = ctx.trace[-1]
    assert (step.source, step.applied, step.ref, step.money, step.points) == (
        "promo", True, promo.pk, applied.discount, applied.points)
    assert ctx.exposures == [("promo", promo.pk, "offered")] and ctx.combinable


def test_the_explanation_names_the_money_and_points(program, people, shop):
    make_promo(program, discount_percent=D(10), bonus_points=D(5), products=[shop["pizza"]])
    ctx = build(program, people["anna"], [(shop["pizza"], 2, 1500), (shop["ticket"], 1, 100)])
    promos_apply(ctx, ["SALE"])
    assert nb(ctx.trace[-1].text) == "Промокод «SALE» (Акция) на 1 позицию: скидка 10% — 150 ₽, +5 баллов."


def test_two_codes_apply_in_the_order_typed_on_what_is_left(program, people, shop):
    first = make_promo(program, "TEN", discount_percent=D(10))
    second = make_promo(program, "MINUS", discount_percent=None, discount_amount=D(90), bonus_points=D(7))
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 600), (shop["cola"], 1, 300)])
    promos_apply(ctx, ["ten", "minus"])
    assert ctx.refusals == []
    assert [line.discount for line in ctx.lines] == [D(120), D(60)]  # 60+30 then 60+30 on 540/270
    assert [(p.promo, p.discount) for p in ctx.promos] == [(first, D(90)), (second, D(90))]
    assert ctx.bonus_points == D(7) and ctx.combinable
    reversed_ctx = build(program, people["anna"], [(shop["ticket"], 1, 600), (shop["cola"], 1, 300)])
    promos_apply(reversed_ctx, ["minus", "ten"])  # 90 off first, then 10% of 810
    assert [p.discount for p in reversed_ctx.promos] == [D(90), D(81)]


def test_a_code_that_must_be_alone_applies_alone_and_stops_points_payment(program, people, shop):
    alone = make_promo(program, "ALONE", combinable=False)
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(ctx, ["alone"])
    assert [p.promo for p in ctx.promos] == [alone] and ctx.combinable is False
    make_promo(program, "OTHER")
    both = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(both, ["OTHER", "ALONE"])  # the combinable one still applies
    assert [p.promo.code for p in both.promos] == ["OTHER"] and both.combinable
    assert [r.ref for r in both.refusals] == ["ALONE"]


def test_a_coupon_counts_its_caps_on_its_own_row_and_reports_its_template(program, people, shop):
    template = make_promo(program, "TPL", max_uses=1)
    prior_use(template, people["oleg"], "X-1")  # the template's single use is taken
    coupon = PromoCode.objects.create(program=program, code="TPL-ANNA", name="Купон", parent=template,
                                      contact=people["anna"], discount_percent=D(10), max_uses_per_client=1)
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(ctx, ["tpl-anna"])
    assert ctx.refusals == [] and ctx.exposures == [("promo", template.pk, "offered")]
    prior_use(coupon, people["anna"], "X-2")
    again = build(program, people["anna"], [(shop["ticket"], 1, 1000)], ref="R-3")
    promos_apply(again, ["TPL-ANNA"])
    assert "только один раз" in again.refusals[0].reason


def test_a_confirm_locks_the_codes_rows(program, people, shop):
    make_promo(program, "B")
    make_promo(program, "A")
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        promos_apply(ctx, ["B", "A"], lock=True)
    assert [p.promo.code for p in ctx.promos] == ["B", "A"]  # locked in id order, applied in the order typed
    locking = [q["sql"] for q in queries if "FOR UPDATE" in q["sql"]]
    assert len(locking) == (1 if connection.features.has_select_for_update else 0)


def test_a_code_of_another_program_is_not_found(program, people, shop):
    from loyalty.models import Program

    make_promo(Program.objects.create(code="kids", name="Детский клуб"), "KIDS")
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(ctx, ["KIDS"])
    assert ctx.refusals[0].reason == "Промокод «KIDS» не найден."


@given(st.lists(st.decimals(min_value=0, max_value=100000, places=2), min_size=1, max_size=8),
       st.decimals(min_value=0, max_value=200000, places=2))
def test_an_amount_is_split_to_the_exact_cent_and_never_above_a_line(nets, amount):
    lines = [Line(index=i, product=None, quantity=D(1), amount=net) for i, net in enumerate(nets)]
    shares = _split(amount, lines)
    assert sum(shares) == min(amount, sum(nets))
    assert all(D(0) <= share <= net for share, net in zip(shares, nets, strict=True))
    assert all(share == share.quantize(D("0.01")) for share in shares)


# --- recording and release ---------------------------------------------------------------------

def test_record_is_once_per_receipt_and_a_refund_gives_the_use_back(program, people, shop):
    promo = make_promo(program, max_uses=1, bonus_points=D(3))
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(ctx, ["SALE"])
    receipt = Receipt.objects.create(program=program, contact=people["anna"], ref="R-1", at=AT)
    promos_record(ctx, receipt)
    promos_record(ctx, receipt)  # a retried confirm
    use = PromoUse.objects.get()
    promo.refresh_from_db()
    assert (use.promo, use.contact, use.discount, use.points, use.cancelled) == (
        promo, people["anna"], D(100), D(3), False)
    assert promo.uses == 1
    exposure = OfferExposure.objects.get(offer="promo", offer_id=promo.pk)
    assert (exposure.contact, exposure.group, exposure.used_at) == (people["anna"], "offered", AT)
    next_one = build(program, people["oleg"], [(shop["ticket"], 1, 1000)], ref="R-2")
    promos_apply(next_one, ["SALE"])
    assert "одноразовый" in next_one.refusals[0].reason
    promos_release(receipt)
    promos_release(receipt)  # a retried refund
    use.refresh_from_db()
    promo.refresh_from_db()
    assert use.cancelled and promo.uses == 0
    after = build(program, people["oleg"], [(shop["ticket"], 1, 1000)], ref="R-2")
    promos_apply(after, ["SALE"])
    assert after.refusals == [] and after.discount == D(100)


def test_record_of_a_coupon_marks_its_template_offer_used(program, people, shop):
    template = make_promo(program, "TPL")
    [coupon] = _issue(template, [people["anna"]])
    ctx = build(program, people["anna"], [(shop["ticket"], 1, 1000)])
    promos_apply(ctx, [coupon.code])
    receipt = Receipt.objects.create(program=program, contact=people["anna"], ref="R-1", at=AT)
    promos_record(ctx, receipt)
    coupon.refresh_from_db()
    template.refresh_from_db()
    assert (coupon.uses, template.uses) == (1, 0)
    assert OfferExposure.objects.get(offer="promo", offer_id=template.pk).used_at == AT


# --- personal coupons --------------------------------------------------------------------------

def _issue(template, contacts, **kwargs):
    coupons_issue(template, contacts, **kwargs)
    return list(PromoCode.objects.filter(parent=template).order_by("pk"))


def test_coupons_copy_the_template_and_only_their_owner_may_use_them(program, people, shop):
    template = make_promo(program, "TPL", active=False, discount_percent=None, discount_amount=D(50),
                          bonus_points=D(5), min_total=D(100), combinable=False, max_uses=10,
                          valid_until=AT + dt.timedelta(days=30), products=[shop["pizza"]],
                          categories=[shop["drinks"]])
    coupons = _issue(template, [people["anna"], people["oleg"]], prefix=" june-")
    assert [c.contact for c in coupons] == [people["anna"], people["oleg"]]
    for coupon in coupons:
        assert coupon.code.startswith("JUNE-") and len(coupon.code) == 13
        assert set(coupon.code[5:]) <= set(COUPON_ALPHABET)
        assert (coupon.active, coupon.discount_amount, coupon.bonus_points, coupon.min_total, coupon.combinable,
                coupon.max_uses, coupon.max_uses_per_client, coupon.valid_until, coupon.program) == (
            True, D(50), D(5), D(100), False, 10, 1, template.valid_until, program)
        assert list(coupon.products.all()) == [shop["pizza"]] and list(coupon.categories.all()) == [shop["drinks"]]
    anna_coupon = coupons[0]
    theirs = build(program, people["oleg"], [(shop["pizza"], 1, 500)])
    promos_apply(theirs, [anna_coupon.code.lower()])
    assert theirs.refusals[0].reason == f"Промокод «{anna_coupon.code}» — персональный купон другого клиента."
    hers = build(program, people["anna"], [(shop["pizza"], 1, 500)])
    promos_apply(hers, [anna_coupon.code])
    assert hers.refusals == [] and hers.discount == D(50) and hers.combinable is False


def test_a_template_may_allow_a_coupon_several_uses(program, people):
    template = make_promo(program, "TPL", max_uses_per_client=3)
    [coupon] = _issue(template, [people["anna"]])
    assert coupon.max_uses_per_client == 3


def test_issue_holds_back_the_control_group_and_is_idempotent(program, django_assert_max_num_queries):
    contacts = Contact.objects.bulk_create([Contact(first_name=f"c{i}") for i in range(2500)])
    template = make_promo(program, "TPL", holdout_percent=20)
    everyone = Contact.objects.all()
    with django_assert_max_num_queries(150):  # bulk, in chunks (SQLite: smaller batches), not a query per contact
        issued, held = coupons_issue(template, everyone)
    ids = list(everyone.values_list("pk", flat=True))
    expected_held = sum(offer_group("promo", template.pk, pk, 20) == "control" for pk in ids)
    assert (issued, held) == (2500 - expected_held, expected_held)
    assert 0.15 < held / 2500 < 0.25
    assert PromoCode.objects.filter(parent=template).count() == issued
    assert PromoCode.objects.filter(parent=template).values("code").distinct().count() == issued
    control = set(OfferExposure.objects.filter(offer="promo", offer_id=template.pk, group="control")
                  .values_list("contact_id", flat=True))
    with_coupon = set(PromoCode.objects.filter(parent=template).values_list("contact_id", flat=True))
    assert len(control) == held and not control & with_coupon and control | with_coupon == set(ids)
    assert OfferExposure.objects.filter(offer="promo", offer_id=template.pk, group="offered").count() == issued
    assert coupons_issue(template, everyone) == (0, 0)  # again: nobody new
    newcomers = Contact.objects.bulk_create([Contact(first_name=f"n{i}") for i in range(50)])
    again = coupons_issue(template, [*contacts[:10], *newcomers])
    assert sum(again) == 50 and PromoCode.objects.filter(parent=template).count() == issued + again[0]


def test_a_client_already_exposed_keeps_the_group(program, people):
    template = make_promo(program, "TPL", holdout_percent=100)
    OfferExposure.objects.create(offer="promo", offer_id=template.pk, contact=people["anna"], group="offered",
                                 at=AT)  # typed the public code before the segment mailing
    assert coupons_issue(template, [people["anna"], people["oleg"]]) == (1, 1)
    assert PromoCode.objects.get(parent=template).contact == people["anna"]


@pytest.mark.parametrize(("setup", "message"), [
    ("coupon", "из общего промокода"),
    ("prefix", "Префикс"),
])
def test_issue_refuses_a_coupon_as_template_and_a_bad_prefix(program, people, setup, message):
    template = make_promo(program, "TPL")
    if setup == "coupon":
        [coupon] = _issue(template, [people["anna"]])
        with pytest.raises(ValidationError, match=message):
            coupons_issue(coupon, [people["oleg"]])
    else:
        with pytest.raises(ValidationError, match=message):
            coupons_issue(template, [people["oleg"]], prefix="ЛЕТО 2025")
