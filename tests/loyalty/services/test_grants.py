"""Manual grants: within the role's limit, with a reason, audited; the admin form refuses a
grant over the limit with the reason and counts a double submit once."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from hub.models import Contact
from loyalty.models import Account, Entry, GrantLimit
from loyalty.services.grants import bonus_grant, grant_limit_for

pytestmark = pytest.mark.django_db


def _staff(name, limit):
    group, _ = Group.objects.get_or_create(name=name)
    GrantLimit.objects.update_or_create(group=group, defaults={"max_points": limit})
    group.permissions.add(*Permission.objects.filter(codename__in=["add_entry", "view_entry", "view_account"]))
    user = User.objects.create_user(f"{name}-user", password="pw", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def anna():
    return Contact.objects.create(first_name="Анна")


def test_a_manager_grants_up_to_the_limit_and_a_senior_more(anna):
    manager, senior = _staff("Менеджер", 1000), _staff("Старший менеджер", 10000)
    entry = bonus_grant(anna, 1000, reason="компенсация", actor=manager, idempotency_key="g1")
    assert (entry.actor, entry.reason, entry.points, entry.source) == (manager, "компенсация", 1000, "manual")
    with pytest.raises(PermissionDenied, match=r"лимит — 1000\.00 баллов"):
        bonus_grant(anna, 1500, reason="много", actor=manager, idempotency_key="g2")
    with pytest.raises(PermissionDenied):
        bonus_grant(anna, -1500, reason="списание", actor=manager, idempotency_key="g3")
    bonus_grant(anna, 1500, reason="акция", actor=senior, idempotency_key="g4")
    assert Account.objects.get(contact=anna).balance == 2500


def test_limits_come_from_the_highest_role_and_no_role_means_no_grants():
    user = _staff("Менеджер", 1000)
    user.groups.add(Group.objects.create(name="Кассир"))
    GrantLimit.objects.create(group=Group.objects.get(name="Кассир"), max_points=300)
    assert grant_limit_for(user) == Decimal("1000.00")
    assert grant_limit_for(User.objects.create_user("nobody")) == 0
    assert grant_limit_for(User(is_superuser=True)) is None


def test_the_admin_form_refuses_over_the_limit_and_a_double_submit_is_one_grant(client, anna):
    manager = _staff("Менеджер", 1000)
    client.force_login(manager)
    url = reverse("admin:loyalty_grant")
    page = client.get(url).content.decode()
    assert "Ваш лимит: 1000" in page
    refused = client.post(url, {"contact": anna.pk, "points": "1500", "reason": "много", "key": "k1"})
    assert refused.status_code == 200 and "Попросите старшего менеджера" in refused.content.decode()
    for _ in range(2):
        done = client.post(url, {"contact": anna.pk, "points": "700", "reason": "день рождения", "key": "k2"})
        assert done.status_code == 302
    assert list(Entry.objects.values_list("points", "actor__username")) == [(Decimal("700.00"), "Менеджер-user")]
    audit = client.get(reverse("admin:loyalty_entry_changelist")).content.decode()
    assert "день рождения" in audit


def test_without_the_permission_the_form_is_closed(client):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:loyalty_grant")).status_code == 403
