"""Offer results on hand-made exposures and receipts: exact clients, uses, conversions,
revenue in the window after each client's exposure (edges, refunds, other clients), uplift
against the control group (none without one), points given, and the whole overview in a
fixed number of queries however many offers there are."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import Contact
from loyalty.models import EarningRule, OfferExposure, Program, PromoCode, PromoUse, Receipt, RuleHit
from loyalty.reports import GroupResult, OfferResult, offer_results, offers_overview
from loyalty.services.ledger import program_default
from mailings.models import Campaign, Template

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
RULE, PROMO, CAMPAIGN = OfferExposure.Offer.RULE, OfferExposure.Offer.PROMO, OfferExposure.Offer.CAMPAIGN
OFFERED, CONTROL = OfferExposure.Group.OFFERED, OfferExposure.Group.CONTROL


def client(name: str) -> Contact:
    return Contact.objects.create(first_name=name)


def receipt(contact: Contact, at: dt.datetime, paid: str, certificates: str = "0", *,
            refunded: bool = False) -> Receipt:
    return Receipt.objects.create(
        program=program_default(), contact=contact, ref=f"r{Receipt.objects.count() + 1}", at=at,
        paid=Decimal(paid), certificates=Decimal(certificates), total=Decimal(paid) + Decimal(certificates),
        status=Receipt.Status.REFUNDED if refunded else Receipt.Status.PAID)


def expose(offer: str, offer_id: int, contact: Contact, group: str, at: dt.datetime = T0,
           used_at: dt.datetime | None = None) -> OfferExposure:
    return OfferExposure.objects.create(offer=offer, offer_id=offer_id, contact=contact, group=group, at=at,
                                        used_at=used_at)


def make_rule(program: Program, name: str) -> EarningRule:
    return EarningRule.objects.create(program=program, name=name, effect=EarningRule.Effect.BONUS, value=10,
                                      holdout_percent=40)


def make_campaign(name: str) -> Campaign:
    template = Template.objects.create(name=f"t {name}", body="Привет")
    return Campaign.objects.create(name=name, kind=Campaign.Kind.SEGMENT, template=template, channels=["email"],
                                   holdout_percent=50)


def group(result: GroupResult) -> tuple:
    return (result.clients, result.used, result.conversion, result.revenue, result.revenue_per_client)


@pytest.fixture
def program() -> Program:
    return program_default()


@pytest.fixture
def rule(program: Program) -> EarningRule:
    """Three clients got the rule, two were held back; receipts on the window's edges."""
    rule = make_rule(program, "Двойные баллы")
    other = make_rule(program, "Другое правило")
    anna, boris, vera, gleb, dina = (client(n) for n in ("Анна", "Борис", "Вера", "Глеб", "Дина"))
    expose(RULE, rule.pk, anna, OFFERED, used_at=T0)
    first = receipt(anna, T0, "999")  # the exposing receipt itself: not after the exposure
    second = receipt(anna, T0 + DAY, "1000.00", "200.00")  # money and certificates both count
    receipt(anna, T0 + 30 * DAY, "300.00")  # the window's last moment: in
    receipt(anna, T0 + 30 * DAY + dt.timedelta(seconds=1), "5000")  # just after: out
    gone = receipt(anna, T0 + 2 * DAY, "700", refunded=True)  # refunded: nothing
    expose(RULE, rule.pk, boris, OFFERED, at=T0 + 10 * DAY)  # met it, did not get it applied
    receipt(boris, T0 + 15 * DAY, "100.00")
    receipt(boris, T0 + 5 * DAY, "80.00")  # before his own exposure
    expose(RULE, rule.pk, vera, OFFERED)
    expose(RULE, rule.pk, gleb, CONTROL)
    receipt(gleb, T0 + 3 * DAY, "400.00")
    expose(RULE, rule.pk, dina, CONTROL)
    receipt(client("Чужой"), T0 + DAY, "10000")  # somebody who never met the rule
    RuleHit.objects.create(receipt=first, rule=rule, points=Decimal("50.00"))
    RuleHit.objects.create(receipt=second, rule=rule, points=Decimal("12.50"))
    RuleHit.objects.create(receipt=gone, rule=rule, points=Decimal("70.00"))  # taken back by the refund
    RuleHit.objects.create(receipt=second, rule=other, points=Decimal("3.00"))
    expose(RULE, other.pk, anna, OFFERED, used_at=T0 + DAY)
    return rule


def test_rule_results_are_exact_on_the_window_edges_without_refunds(rule):
    result = offer_results(RULE, rule.pk, days=30, now=NOW)
    assert (result.name, result.kind_label, result.days) == ("Двойные баллы", str(OfferExposure.Offer.RULE.label), 30)
    # Анна 1200 + 300, Борис 100, Вера 0
    assert group(result.offered) == (3, 1, Decimal("33.3"), Decimal("1600.00"), Decimal("533.33"))
    assert group(result.control) == (2, 0, Decimal("0.0"), Decimal("400.00"), Decimal("200.00"))
    assert result.uplift == Decimal("333.33")
    assert result.uplift_percent == Decimal("166.7")
    assert result.points == Decimal("62.50")


def test_a_shorter_window_and_an_earlier_now_cut_the_revenue(rule):
    week = offer_results(RULE, rule.pk, days=7, now=NOW)
    assert week.offered.revenue == Decimal("1300.00")  # Анна's 30th-day receipt is out, Борис' 5th day is in
    assert week.control.revenue == Decimal("400.00")
    early = offer_results(RULE, rule.pk, days=30, now=T0 + 12 * DAY)
    assert early.offered.revenue == Decimal("1200.00")  # later receipts have not happened yet
    assert early.offered.clients == 3 and early.points == Decimal("62.50")
    before = offer_results(RULE, rule.pk, days=30, now=T0 + 5 * DAY)
    assert before.offered.clients == 2  # Борис has not met it yet


def test_promo_results_count_coupons_with_their_code_and_no_control_means_no_uplift(program):
    promo = PromoCode.objects.create(program=program, code="summer", name="Лето", discount_percent=10)
    coupon = PromoCode.objects.create(program=program, code="SUMMER-1", name="Лето (купон)", parent=promo)
    ira, kira = client("Ира"), client("Кира")
    expose(PROMO, promo.pk, ira, OFFERED, used_at=T0 + DAY)
    expose(PROMO, promo.pk, kira, OFFERED)
    expose(PROMO, coupon.pk, ira, OFFERED)  # recorded under a coupon: not an offer of its own
    bought = receipt(ira, T0 + 10 * DAY, "250.00")
    PromoUse.objects.create(promo=coupon, receipt=bought, contact=ira, points=Decimal("25"))
    PromoUse.objects.create(promo=promo, receipt=receipt(kira, T0 + DAY, "1"), contact=kira, points=Decimal("5"))
    PromoUse.objects.create(promo=promo, receipt=receipt(kira, T0 + DAY, "1"), contact=kira, points=Decimal("40"),
                            cancelled=True)
    result = offer_results(PROMO, promo.pk, now=NOW)
    assert result.name == "SUMMER — Лето"
    assert group(result.offered) == (2, 1, Decimal("50.0"), Decimal("252.00"), Decimal("126.00"))
    assert group(result.control) == (0, 0, None, Decimal("0.00"), None)
    assert result.uplift is None and result.uplift_percent is None
    assert result.points == Decimal("30.00")
    assert [(r.offer, r.offer_id) for r in offers_overview(now=NOW)] == [(PROMO, promo.pk)]


def test_campaign_use_is_a_paid_receipt_after_the_message_within_the_window(db):
    campaign = make_campaign("Весна")
    lena, mila, nina, olga = client("Лена"), client("Мила"), client("Нина"), client("Оля")
    expose(CAMPAIGN, campaign.pk, lena, OFFERED)
    receipt(lena, T0 + 2 * DAY, "90.00")
    receipt(lena, T0 + 40 * DAY, "500.00")  # out of the window
    expose(CAMPAIGN, campaign.pk, mila, OFFERED)
    receipt(mila, T0 + 40 * DAY, "70.00")  # bought, but too late to count as used
    expose(CAMPAIGN, campaign.pk, nina, CONTROL)
    receipt(nina, T0 - DAY, "300.00")  # before: not used
    receipt(nina, T0, "300.00")  # at the very moment: not after
    receipt(nina, T0 + DAY, "300.00", refunded=True)
    expose(CAMPAIGN, campaign.pk, olga, CONTROL, used_at=T0)  # a stray used_at does not count for campaigns
    result = offer_results(CAMPAIGN, campaign.pk, days=30, now=NOW)
    assert result.name == "Весна"
    assert group(result.offered) == (2, 1, Decimal("50.0"), Decimal("90.00"), Decimal("45.00"))
    assert group(result.control) == (2, 0, Decimal("0.0"), Decimal("0.00"), Decimal("0.00"))
    assert result.uplift == Decimal("45.00")
    assert result.uplift_percent is None  # nothing to take a percentage of
    assert result.points == Decimal("0.00")
    wide = offer_results(CAMPAIGN, campaign.pk, days=90, now=NOW)
    assert (wide.offered.used, wide.offered.revenue) == (2, Decimal("660.00"))


def test_an_offer_nobody_met_is_all_zeros_and_a_deleted_one_is_named_by_its_id(program):
    rule = make_rule(program, "Новое правило")
    result = offer_results(RULE, rule.pk, now=NOW)
    assert result == OfferResult(offer=RULE, offer_id=rule.pk, name="Новое правило", days=30)
    assert result.uplift is None and result.offered.conversion is None
    expose(RULE, 987654, client("Пётр"), OFFERED)
    assert [r.name for r in offers_overview(now=NOW)] == ["#987654 (удалено)"]
    with pytest.raises(ValueError):
        offers_overview(days=0)


def test_the_overview_lists_every_offer_in_order_and_filters_by_kind(rule):
    campaign = make_campaign("Рассылка")
    expose(CAMPAIGN, campaign.pk, client("Зоя"), OFFERED)
    everything = offers_overview(now=NOW)
    assert [(r.offer, r.name) for r in everything] == [
        (RULE, "Двойные баллы"), (RULE, "Другое правило"), (CAMPAIGN, "Рассылка")]
    assert everything[0] == offer_results(RULE, rule.pk, now=NOW)
    assert everything[1].points == Decimal("3.00")
    assert [r.name for r in offers_overview(now=NOW, kind=CAMPAIGN)] == ["Рассылка"]


def _offers(program: Program, numbers: range) -> None:
    """A rule, a promo code and a campaign per number, every one with both groups and receipts."""
    for n in numbers:
        rule = make_rule(program, f"Правило {n}")
        promo = PromoCode.objects.create(program=program, code=f"CODE{n}", name=f"Код {n}")
        campaign = make_campaign(f"Кампания {n}")
        for offer, pk in ((RULE, rule.pk), (PROMO, promo.pk), (CAMPAIGN, campaign.pk)):
            for side in (OFFERED, CONTROL):
                someone = client(f"{offer} {n} {side}")
                expose(offer, pk, someone, side, used_at=T0 if side == OFFERED else None)
                bought = receipt(someone, T0 + DAY, "100")
                RuleHit.objects.create(receipt=bought, rule=rule, points=1)
                PromoUse.objects.create(promo=promo, receipt=bought, contact=someone, points=1)


def test_the_overview_takes_the_same_few_queries_for_3_and_for_12_offers(program):
    _offers(program, range(1))
    with CaptureQueriesContext(connection) as small:
        assert len(offers_overview(now=NOW)) == 3
    _offers(program, range(1, 4))
    with CaptureQueriesContext(connection) as large:
        results = offers_overview(now=NOW)
    assert len(results) == 12
    assert len(large.captured_queries) == len(small.captured_queries) <= 6
    assert all(r.offered.clients == 1 and r.control.clients == 1 and r.offered.used == 1 for r in results)
    assert all(r.offered.revenue == r.control.revenue == Decimal("100.00") and r.uplift == 0 for r in results)
    assert [r.points for r in results if r.offer != CAMPAIGN] == [Decimal("6.00")] * 8  # a hit on each receipt
