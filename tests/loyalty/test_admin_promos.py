"""Promo codes, their uses and purchase limits in the admin: the pages open, the forms explain
what is wrong, and coupons are issued to a saved segment from the promo code list."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from hub.models import Contact, Product, Segment, Tag
from loyalty.admin.limits import PurchaseLimitForm
from loyalty.admin.promos import PromoCodeForm
from loyalty.models import OfferExposure, PromoCode, PromoUse, PurchaseLimit, Receipt
from loyalty.services.ledger import program_default

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def program():
    return program_default()


@pytest.fixture
def vip_segment():
    tag = Tag.objects.create(name="VIP")
    for name in ("Анна", "Олег"):
        Contact.objects.create(first_name=name).tags.add(tag)
    Contact.objects.create(first_name="Без тега")
    return Segment.objects.create(name="VIP", rules={"tags": ["VIP"]})


def test_the_pages_open(admin_client, program):
    anna = Contact.objects.create(first_name="Анна")
    promo = PromoCode.objects.create(program=program, code="SUMMER", name="Лето", discount_percent=D(10),
                                     max_uses=100, valid_until=timezone.now())
    coupon = PromoCode.objects.create(program=program, code="SUMMER-ANNA", name="Лето", parent=promo, contact=anna,
                                      bonus_points=D(5))
    receipt = Receipt.objects.create(program=program, contact=anna, ref="R-1", at=timezone.now())
    PromoUse.objects.create(promo=coupon, receipt=receipt, contact=anna, discount=D(10))
    limit = PurchaseLimit.objects.create(program=program, name="2 в день", measure="quantity", max_value=2)
    pages = [reverse("admin:loyalty_promocode_changelist"), reverse("admin:loyalty_promocode_add"),
             reverse("admin:loyalty_promocode_change", args=[promo.pk]),
             reverse("admin:loyalty_promocode_change", args=[coupon.pk]),
             reverse("admin:loyalty_promocode_changelist") + "?kind=personal",
             reverse("admin:loyalty_promocode_changelist") + f"?parent__id__exact={promo.pk}",
             reverse("admin:loyalty_promouse_changelist"),
             reverse("admin:loyalty_purchaselimit_changelist"), reverse("admin:loyalty_purchaselimit_add"),
             reverse("admin:loyalty_purchaselimit_change", args=[limit.pk])]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    listing = admin_client.get(reverse("admin:loyalty_promocode_changelist")).content.decode()
    assert "SUMMER-ANNA" in listing and "0 / 100" in listing
    personal = admin_client.get(reverse("admin:loyalty_promocode_changelist") + "?kind=personal").content.decode()
    assert "SUMMER-ANNA" in personal and ">SUMMER<" not in personal
    assert admin_client.get(reverse("admin:loyalty_promouse_add")).status_code == 403  # uses are records


def test_a_new_code_is_saved_in_capitals(admin_client, program):
    answer = admin_client.post(reverse("admin:loyalty_promocode_add"), {
        "program": program.pk, "code": " summer-25 ", "name": "Лето", "active": "on", "combinable": "on",
        "discount_percent": "15", "holdout_percent": "0"})
    assert answer.status_code == 302
    assert PromoCode.objects.get().code == "SUMMER-25"


def promo_data(program, **changes):
    data = {"program": program.pk, "code": "SALE", "name": "Акция", "active": True, "combinable": True,
            "discount_percent": "10", "holdout_percent": "0"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


PROMO_ERRORS = [
    ("no effect", {"discount_percent": None}, "__all__", "Укажите, что даёт промокод"),
    ("percent zero", {"discount_percent": "0"}, "discount_percent", "больше 0 и не больше 100"),
    ("percent above 100", {"discount_percent": "100.5"}, "discount_percent", "больше 0 и не больше 100"),
    ("amount not positive", {"discount_amount": "-5"}, "discount_amount", "больше нуля"),
    ("points not positive", {"bonus_points": "0"}, "bonus_points", "больше нуля"),
    ("negative minimum", {"min_total": "-1"}, "min_total", "не может быть отрицательной"),
    ("zero uses", {"max_uses": "0"}, "max_uses", "Ноль использований"),
    ("holdout above 100", {"holdout_percent": "101"}, "holdout_percent", "не больше 100%"),
    ("window backwards", {"valid_from": "2025-06-02 10:00", "valid_until": "2025-06-01 10:00"}, "valid_until",
     "позже даты начала"),
    ("spaces in the code", {"code": "SUMMER 25"}, "code", "только буквы, цифры"),
    ("punctuation in the code", {"code": "SALE!"}, "code", "только буквы, цифры"),
    ("taken in another case", {"code": "taken"}, "code", "Промокод «TAKEN» уже есть"),
]


@pytest.mark.parametrize(("case", "changes", "field", "message"), PROMO_ERRORS, ids=[c[0] for c in PROMO_ERRORS])
def test_the_promo_form_explains_what_is_wrong(program, case, changes, field, message):
    PromoCode.objects.create(program=program, code="TAKEN", name="Занят", discount_percent=D(5))
    form = PromoCodeForm(promo_data(program, **changes))
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


def test_the_promo_form_accepts_a_good_code_and_keeps_its_own_code_on_edit(program):
    form = PromoCodeForm(promo_data(program, code="лето-2025", discount_percent=None, discount_amount="300",
                                    bonus_points="50", valid_from="2025-06-01 00:00", valid_until="2025-09-01 00:00"))
    assert form.is_valid(), form.errors
    promo = form.save()
    assert promo.code == "ЛЕТО-2025"
    edit = PromoCodeForm(promo_data(program, code="Лето-2025", name="Лето"), instance=promo)
    assert edit.is_valid(), edit.errors


LIMIT_ERRORS = [
    ("cap zero", {"max_value": "0"}, "max_value", "больше нуля"),
    ("receipts not whole", {"measure": "receipts", "max_value": "1.5"}, "max_value", "целое"),
    ("rolling without days", {"period": "rolling"}, "days", "укажите N"),
    ("rolling with zero days", {"period": "rolling", "days": "0"}, "days", "укажите N"),
    ("days for a calendar period", {"period": "week", "days": "7"}, "days", "только для периода"),
]


@pytest.mark.parametrize(("case", "changes", "field", "message"), LIMIT_ERRORS, ids=[c[0] for c in LIMIT_ERRORS])
def test_the_limit_form_explains_what_is_wrong(program, case, changes, field, message):
    data = {"program": program.pk, "name": "Лимит", "active": True, "measure": "quantity", "max_value": "2",
            "period": "day", **changes}
    form = PurchaseLimitForm(data)
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


def test_the_limit_form_accepts_rolling_days_and_targets(admin_client, program):
    ticket = Product.objects.create(name="Билет")
    answer = admin_client.post(reverse("admin:loyalty_purchaselimit_add"), {
        "program": program.pk, "name": "3 билета за неделю", "active": "on", "measure": "quantity",
        "max_value": "3", "period": "rolling", "days": "7", "products": [ticket.pk]})
    assert answer.status_code == 302
    limit = PurchaseLimit.objects.get()
    assert (limit.days, list(limit.products.all())) == (7, [ticket])


def action(admin_client, promo, **extra):
    return admin_client.post(reverse("admin:loyalty_promocode_changelist"),
                             {"action": "issue_coupons", "_selected_action": [promo.pk], **extra}, follow=True)


def test_issue_coupons_to_a_segment_from_the_list(admin_client, program, vip_segment):
    promo = PromoCode.objects.create(program=program, code="VIP", name="VIP", discount_percent=D(20),
                                     valid_until=timezone.now() + dt.timedelta(days=30))
    page = action(admin_client, promo)
    assert page.status_code == 200 and 'name="segment"' in page.content.decode()
    assert not PromoCode.objects.filter(parent=promo).exists()  # the intermediate page issues nothing
    done = action(admin_client, promo, apply="1", segment=vip_segment.pk, prefix="vip-")
    assert "Выдано 2, в контрольной группе 0." in done.content.decode()
    coupons = PromoCode.objects.filter(parent=promo)
    assert sorted(c.contact.first_name for c in coupons) == ["Анна", "Олег"]
    assert all(c.code.startswith("VIP-") for c in coupons)
    again = action(admin_client, promo, apply="1", segment=vip_segment.pk)
    assert "Выдано 0, в контрольной группе 0." in again.content.decode()


def test_the_control_group_is_reported(admin_client, program, vip_segment):
    promo = PromoCode.objects.create(program=program, code="VIP", name="VIP", discount_percent=D(20),
                                     holdout_percent=100)
    done = action(admin_client, promo, apply="1", segment=vip_segment.pk)
    assert "Выдано 0, в контрольной группе 2." in done.content.decode()
    assert OfferExposure.objects.filter(offer="promo", offer_id=promo.pk, group="control").count() == 2


def test_issue_needs_one_template_and_a_valid_form(admin_client, program, vip_segment):
    promo = PromoCode.objects.create(program=program, code="VIP", name="VIP", discount_percent=D(20))
    other = PromoCode.objects.create(program=program, code="VIP2", name="VIP", discount_percent=D(20))
    two = admin_client.post(reverse("admin:loyalty_promocode_changelist"),
                            {"action": "issue_coupons", "_selected_action": [promo.pk, other.pk]}, follow=True)
    assert "Выберите один общий промокод" in two.content.decode()
    coupon = PromoCode.objects.create(program=program, code="VIP-ANNA", name="VIP", parent=promo,
                                      contact=Contact.objects.first(), discount_percent=D(20))
    assert "Выберите один общий промокод" in action(admin_client, coupon).content.decode()
    bad = action(admin_client, promo, apply="1", segment=vip_segment.pk, prefix="в и п")
    assert bad.status_code == 200 and "В префиксе" in bad.content.decode()
    assert list(PromoCode.objects.filter(parent=promo)) == [coupon]  # nothing issued


def test_issue_is_not_offered_without_the_add_permission(client, program):
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_promocode"),
                               Permission.objects.get(codename="change_promocode"))
    client.force_login(clerk)
    page = client.get(reverse("admin:loyalty_promocode_changelist")).content.decode()
    assert "issue_coupons" not in page
