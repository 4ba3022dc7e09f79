"""Certificates, subscriptions and referrals in the admin: every page loads; the forms check
what the services need (fixed XOR open amount, visits for a visits plan); operators issue a
certificate or a subscription by hand through the add form (via the services, once per
submitted form), block certificates, freeze and unfreeze subscriptions (a refusal shown as
a message); refused referrals show why."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from hub.models import Contact, ServicePoint
from hub.services.sales import pass_record
from loyalty.models import (
    Certificate,
    CertificateOperation,
    CertificateType,
    Referral,
    ReferralProgram,
    Subscription,
    SubscriptionPlan,
)
from loyalty.services.certificates import certificate_issue
from loyalty.services.ledger import program_default
from loyalty.services.referrals import referral_code_for, referral_register
from loyalty.services.subscriptions import subscription_issue

pytestmark = pytest.mark.django_db
D = Decimal
DAY = dt.date(2026, 3, 1)


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна", phone="+79990000001")


@pytest.fixture
def open_type():
    return CertificateType.objects.create(program=program_default(), name="На сумму", min_amount=D(500),
                                          max_amount=D(5000))


@pytest.fixture
def plan():
    point = ServicePoint.objects.create(name="Бассейн")
    plan = SubscriptionPlan.objects.create(name="Бассейн, 8 визитов", kind="visits", visits=8, days=30,
                                           max_freeze_days=7)
    plan.service_points.add(point)
    return plan


@pytest.fixture
def filled(anna, open_type, plan):
    """One of everything, so list and change pages render rows."""
    certificate = certificate_issue(open_type, key="k", contact=anna, amount=D(1000))
    subscription = subscription_issue(plan, anna, key="s", starts_on=dt.date.today())
    pass_record(passed_at=dt.datetime.now(dt.UTC), contact=anna, service_point=plan.service_points.get())
    program = program_default()
    ReferralProgram.objects.create(program=program, trigger="registration", referrer_points=D(10))
    referral_register(program, anna, referral_code_for(program, anna).code)  # oneself: refused
    return {"certificatetype": open_type, "certificate": certificate, "subscriptionplan": plan,
            "subscription": subscription, "referralprogram": program.referral,
            "certificateoperation": CertificateOperation.objects.get(),
            "subscriptionvisit": subscription.visit_rows.get(), "referralcode": program.referral_codes.get(),
            "referral": Referral.objects.get()}


MODELS = ["certificatetype", "certificate", "certificateoperation", "subscriptionplan", "subscription",
          "subscriptionvisit", "referralprogram", "referralcode", "referral"]


@pytest.mark.parametrize("model", MODELS)
def test_every_page_loads(admin_client, filled, model):
    assert admin_client.get(reverse(f"admin:loyalty_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:loyalty_{model}_change", args=[filled[model].pk])).status_code == 200
    add = admin_client.get(reverse(f"admin:loyalty_{model}_add"))
    read_only = model in ("certificateoperation", "subscriptionvisit", "referralcode", "referral")
    assert add.status_code == (403 if read_only else 200)


def test_refused_referrals_show_why_and_filter_by_status(admin_client, filled):
    page = admin_client.get(reverse("admin:loyalty_referral_changelist"), {"status__exact": "refused"})
    assert "Нельзя пригласить самого себя." in page.content.decode()
    page = admin_client.get(reverse("admin:loyalty_referral_changelist"), {"status__exact": "rewarded"})
    assert "Нельзя пригласить самого себя." not in page.content.decode()


def _type_form(**values):
    form = {"program": program_default().pk, "name": "Тип", "valid_days": 365, "active": "on"}
    form.update(values)
    return form


@pytest.mark.parametrize(("values", "ok"), [
    ({"amount": "1000"}, True),
    ({"min_amount": "500", "max_amount": "5000"}, True),
    ({"amount": "1000", "min_amount": "500", "max_amount": "5000"}, False),  # both
    ({}, False),  # neither
    ({"min_amount": "500"}, False),  # one bound only
    ({"min_amount": "5000", "max_amount": "500"}, False),  # min above max
    ({"amount": "0"}, False),
])
def test_a_certificate_type_is_fixed_or_open(admin_client, values, ok):
    answer = admin_client.post(reverse("admin:loyalty_certificatetype_add"), _type_form(**values))
    assert (answer.status_code == 302) == ok
    assert CertificateType.objects.filter(name="Тип").exists() == ok


def test_an_operator_issues_a_certificate_by_hand_once_per_form(admin_client, anna, open_type):
    url = reverse("admin:loyalty_certificate_add")
    refused = admin_client.post(url, {"type": open_type.pk, "contact": anna.pk, "amount": "100", "key": "f1"})
    assert refused.status_code == 200 and "от 500.00 ₽ до 5000.00 ₽" in refused.content.decode()
    assert not Certificate.objects.exists()
    for _ in range(2):  # a double-clicked submit
        answer = admin_client.post(url, {"type": open_type.pk, "contact": anna.pk, "amount": "1500", "key": "f2"})
        assert answer.status_code == 302
    certificate = Certificate.objects.get()
    assert (certificate.amount, certificate.balance, certificate.contact, certificate.issue_key) == (
        D(1500), D(1500), anna, "admin:f2")
    assert len(certificate.code) == 12 and certificate.operations.get().amount == D(1500)


def test_block_action(admin_client, anna, open_type):
    certificate = certificate_issue(open_type, key="k", contact=anna, amount=D(1000))
    admin_client.post(reverse("admin:loyalty_certificate_changelist"),
                      {"action": "block", "_selected_action": [certificate.pk]})
    certificate.refresh_from_db()
    assert certificate.status == "blocked"


@pytest.mark.parametrize(("kind", "visits", "ok"), [
    ("visits", "8", True),
    ("visits", "", False),
    ("unlimited", "", True),
    ("unlimited", "8", False),
])
def test_a_plan_has_visits_only_when_it_counts_them(admin_client, kind, visits, ok):
    answer = admin_client.post(reverse("admin:loyalty_subscriptionplan_add"), {
        "name": "План", "kind": kind, "visits": visits, "days": "30", "max_freeze_days": "0", "active": "on"})
    assert (answer.status_code == 302) == ok
    assert SubscriptionPlan.objects.filter(name="План").exists() == ok


def test_an_operator_issues_a_subscription_by_hand(admin_client, anna, plan):
    url = reverse("admin:loyalty_subscription_add")
    for _ in range(2):
        answer = admin_client.post(url, {"plan": plan.pk, "contact": anna.pk, "starts_on": "2026-03-01",
                                         "key": "s1"})
        assert answer.status_code == 302
    subscription = Subscription.objects.get()
    assert (subscription.starts_on, subscription.ends_on, subscription.visits_left, subscription.issue_key) == (
        DAY, dt.date(2026, 3, 30), 8, "admin:s1")


def test_freeze_and_unfreeze_actions_show_the_service_s_refusals(admin_client, anna, plan):
    subscription = subscription_issue(plan, anna, key="s", starts_on=DAY)
    url = reverse("admin:loyalty_subscription_changelist")
    listing = admin_client.get(url).content.decode()
    assert 'name="date_from"' in listing and 'name="date_until"' in listing  # in the action bar

    def act(action, **dates):
        return admin_client.post(url, {"action": action, "_selected_action": [subscription.pk], **dates},
                                 follow=True).content.decode()

    page = act("freeze", date_from="2026-03-05", date_until="2026-03-20")  # 16 days, 7 allowed
    assert "Заморозить можно всего на 7 дн.: уже использовано 0, запрошено 16." in page
    assert "Заполните обе даты" in act("freeze", date_from="2026-03-05")
    subscription.refresh_from_db()
    assert subscription.frozen_from is None and subscription.ends_on == dt.date(2026, 3, 30)
    page = act("freeze", date_from="2026-03-05", date_until="2026-03-09")
    subscription.refresh_from_db()
    assert (subscription.frozen_from, subscription.frozen_until, subscription.ends_on) == (
        dt.date(2026, 3, 5), dt.date(2026, 3, 9), dt.date(2026, 4, 4))
    assert "04.04.2026" in page
    act("unfreeze", date_from="2026-03-07")
    subscription.refresh_from_db()
    assert (subscription.frozen_until, subscription.ends_on, subscription.freeze_days_used) == (
        dt.date(2026, 3, 6), dt.date(2026, 4, 1), 2)
    assert "не заморожен на 07.03.2026" in act("unfreeze", date_from="2026-03-07")
