"""The audit log page: every tracked model's changes, newest first, only what the viewer may see."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from hub.models import Connection, Contact
from hub.services.roles import AUDITOR, MANAGER, roles_sync
from loyalty.models import GrantLimit

pytestmark = pytest.mark.django_db


def _client(role: str) -> tuple[Client, object]:
    roles_sync()
    user = get_user_model().objects.create_user(f"{role}-1", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name={"auditor": AUDITOR, "manager": MANAGER}[role].name))
    client = Client()
    client.force_login(user)
    return client, user


def test_the_auditor_sees_changes_of_every_tracked_model_newest_first() -> None:
    client, _ = _client("auditor")
    Connection.objects.create(name="CRM", system="amocrm", credentials={"token": "s3cret"})
    anna = Contact.objects.create(first_name="Анна")
    anna.first_name = "Анна-Мария"
    anna.save()
    page = client.get(reverse("audit_log"))
    rows = [(c.label, c.title, c.kind) for c in page.context["changes"]]
    assert rows == [("hub.contact", "Анна-Мария", "изменение"), ("hub.contact", "Анна", "создание"),
                    ("hub.connection", "CRM", "создание"),
                    ("loyalty.grantlimit", f"№{GrantLimit.objects.get().pk}", "создание")]  # made by roles_sync
    assert "s3cret" not in page.content.decode()
    assert reverse("admin:hub_contact_history", args=[anna.pk]) in page.content.decode()


def test_filters_by_model_and_by_who_made_the_change() -> None:
    client, auditor = _client("auditor")
    Connection.objects.create(name="CRM", system="amocrm")
    Contact.objects.create(first_name="Анна")
    only_contacts = client.get(reverse("audit_log"), {"model": "hub.contact"}).context["changes"]
    assert [c.label for c in only_contacts] == ["hub.contact"]
    assert client.get(reverse("audit_log"), {"user": auditor.pk}).context["changes"] == []
    assert len(client.get(reverse("audit_log"), {"model": "nonsense", "user": "x"}).context["changes"]) == 3


def test_a_manager_does_not_see_connection_changes_and_a_plain_staff_user_is_refused() -> None:
    client, _ = _client("manager")
    Connection.objects.create(name="CRM", system="amocrm")
    Contact.objects.create(first_name="Анна")
    seen = {c.label for c in client.get(reverse("audit_log")).context["changes"]}
    assert seen == {"hub.contact", "loyalty.grantlimit"}
    plain = Client()
    plain.force_login(get_user_model().objects.create_user("plain", password="pw", is_staff=True))
    assert plain.get(reverse("audit_log")).status_code == 403


@pytest.mark.parametrize("bad", ["²", "9" * 5000, "99999999999999999999999"])
def test_a_person_filter_that_is_not_an_id_shows_everyone(bad) -> None:
    client, _ = _client("auditor")
    Contact.objects.create(first_name="Анна")
    page = client.get(reverse("audit_log"), {"user": bad})
    assert page.status_code == 200
    assert page.context["changes"][0].label == "hub.contact"


def test_the_log_costs_the_same_queries_for_many_changes(django_assert_max_num_queries) -> None:
    client, _ = _client("auditor")
    for i in range(40):
        Connection.objects.create(name=f"CRM {i}", system="amocrm")
        Contact.objects.create(first_name=f"Клиент {i}")
    with django_assert_max_num_queries(25):
        page = client.get(reverse("audit_log"))
    assert len(page.context["changes"]) == 81
    assert "Клиент 39" in page.content.decode()
