"""The mass accrual page: a preview first (count, already granted, total), then one apply;
the same campaign again grants nobody; closed without the permission; bad input explained."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from hub.models import Contact, Segment, Tag
from loyalty.models import Account, Entry

pytestmark = pytest.mark.django_db
URL = "admin:loyalty_mass_accrual"


@pytest.fixture
def vip():
    tag = Tag.objects.create(name="VIP")
    for name in ("Анна", "Олег"):
        Contact.objects.create(first_name=name).tags.add(tag)
    Contact.objects.create(first_name="Без тега")
    return tag


def test_preview_then_apply_then_a_rerun_grants_nobody(admin_client, vip):
    form = {"tags": ["VIP"], "points": "100", "campaign": "VIP-ноябрь", "reason": "Подарок VIP"}
    preview = admin_client.post(reverse(URL), {**form, "preview": "1"}).content.decode()
    assert "Подходит клиентов: 2" in preview and "200,00" in preview
    assert not Entry.objects.exists()  # a preview writes nothing
    applied = admin_client.post(reverse(URL), {**form, "apply": "1"}, follow=True).content.decode()
    assert "Начислено 2 клиентам" in applied
    assert sorted(Account.objects.values_list("balance", flat=True)) == [Decimal(100)] * 2
    again = admin_client.post(reverse(URL), {**form, "preview": "1"}).content.decode()
    assert "уже получили это начисление: 2" in again
    admin_client.post(reverse(URL), {**form, "apply": "1"})
    assert Entry.objects.count() == 2


def test_a_saved_segment_is_a_filter_and_its_rules_are_edited_as_fields(admin_client, vip):
    admin_client.post(reverse("admin:hub_segment_add"), {"name": "VIP взрослые", "tags": ["VIP"],
                                                         "category": "adult"})
    segment = Segment.objects.get()
    assert segment.rules == {"category": "adult", "tags": ["VIP"]}
    page = admin_client.get(reverse("admin:hub_segment_changelist")).content.decode()
    assert "VIP взрослые" in page
    preview = admin_client.post(reverse(URL), {"segment": segment.pk, "points": "5", "campaign": "s",
                                               "reason": "r", "preview": "1"}).content.decode()
    assert "Подходит клиентов: 2" in preview


def test_bad_input_is_explained_and_the_page_is_closed_without_the_permission(admin_client, client, vip):
    bad = admin_client.post(reverse(URL), {"deal_stage": "142", "points": "0", "campaign": "", "reason": "",
                                           "preview": "1"}).content.decode()
    assert "выберите CRM" in bad and "Обязательное поле" in bad
    manager = User.objects.create_user("manager", password="pw", is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="add_entry"))
    client.force_login(manager)
    assert client.get(reverse(URL)).status_code == 403
    manager.user_permissions.add(Permission.objects.get(codename="mass_accrue"))
    manager = User.objects.get(pk=manager.pk)
    client.force_login(manager)
    assert client.get(reverse(URL)).status_code == 200
