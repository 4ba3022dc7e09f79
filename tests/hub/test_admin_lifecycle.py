"""The lifecycle and "all programs and venues" pages in the admin: the profiles page shows
every program's balance and every venue's id, escapes names, merges a linked record only
for those allowed to change contacts; the thresholds are one row; stages are read-only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from hub.models import (
    ClientLifecycle,
    Connection,
    Contact,
    ContactIdentity,
    ExternalRef,
    LifecycleChange,
    LifecyclePolicy,
    Pass,
)
from loyalty.models import Account, Program, Tier

pytestmark = pytest.mark.django_db
PHONE = "+79161234567"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def client_with_twin():
    anna = Contact.objects.create(first_name="Анна", last_name="<script>alert(1)</script>", phone=PHONE)
    ContactIdentity.objects.create(contact=anna, kind="phone", value=PHONE)
    twin = Contact.objects.create(first_name="<b>Аня</b>", phone=PHONE)
    park = Connection.objects.create(name="Аквапарк «Волна»", system="lime")
    kids = Connection.objects.create(name="Детский центр", system="lime")
    own = Program.objects.create(code="park", name="Бонусы парка")
    other = Program.objects.create(code="kids", name="Бонусы центра")
    Account.objects.create(contact=anna, program=own, balance=Decimal("150.50"),
                           tier=Tier.objects.create(program=own, name="Золото", threshold=Decimal(1000)))
    Account.objects.create(contact=twin, program=other, balance=Decimal("70.00"))
    ExternalRef.objects.create(connection=park, kind="contact", local_id=anna.pk, external_id="L-100")
    ExternalRef.objects.create(connection=kids, kind="contact", local_id=twin.pk, external_id="K-5")
    return anna, twin


def profiles_url(contact: Contact) -> str:
    return reverse("admin:hub_contact_profiles", args=[contact.pk])


def staff(name: str, *perms: str) -> User:
    user = User.objects.create_user(name, password="x", is_staff=True)
    for perm in perms:
        user.user_permissions.add(Permission.objects.get(codename=perm, content_type__app_label="hub"))
    return user


def test_profiles_page_shows_both_programs_venues_and_escapes_names(admin_client, client_with_twin):
    anna, twin = client_with_twin
    change = admin_client.get(reverse("admin:hub_contact_change", args=[anna.pk])).content.decode()
    assert f'href="{profiles_url(anna)}"' in change  # linked from the contact's page
    page = admin_client.get(profiles_url(anna)).content.decode()
    for text in ("Бонусы парка", "150,50", "Золото", "Бонусы центра", "70,00", "220,50",  # Russian decimals
                 "Аквапарк «Волна»", "L-100", "Детский центр", "K-5"):
        assert text in page, text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>Аня</b>" not in page and "&lt;b&gt;Аня&lt;/b&gt;" in page
    assert page.count('name="merge"') == 1 and f'value="{twin.pk}"' in page
    assert "csrfmiddlewaretoken" in page


def test_merge_button_merges_the_linked_record_into_this_contact(admin_client, client_with_twin):
    anna, twin = client_with_twin
    for contact in (anna, twin):  # both already have a stage: the merge must not trip over them
        ClientLifecycle.objects.create(contact=contact, stage="active", since=TODAY, computed_on=TODAY)
    Pass.objects.create(contact=twin, passed_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
    answer = admin_client.post(profiles_url(anna), {"merge": twin.pk}, follow=True)
    twin.refresh_from_db()
    assert twin.merged_into == anna
    assert Pass.objects.get().contact == anna and Account.objects.filter(contact=anna).count() == 2
    assert ClientLifecycle.objects.get().contact == anna
    assert f"#{twin.pk}" in answer.content.decode() and answer.redirect_chain[-1][0] == profiles_url(anna)
    assert 'name="merge"' not in answer.content.decode()  # nothing left to merge
    again = admin_client.post(profiles_url(anna), {"merge": twin.pk}, follow=True)  # a stale page
    assert [m.level_tag for m in again.context["messages"]] == ["error"]


def test_merge_refuses_a_contact_that_is_not_linked(admin_client, client_with_twin):
    anna, _ = client_with_twin
    stranger = Contact.objects.create(first_name="Чужой", phone="+79990000000")
    admin_client.post(profiles_url(anna), {"merge": stranger.pk})
    stranger.refresh_from_db()
    assert stranger.merged_into is None


def test_a_conflict_the_merge_cannot_resolve_is_a_message_not_a_crash(admin_client, client_with_twin):
    anna, twin = client_with_twin
    Account.objects.create(contact=twin, program=Program.objects.get(code="park"), balance=Decimal(1))
    answer = admin_client.post(profiles_url(anna), {"merge": twin.pk}, follow=True)
    assert answer.status_code == 200 and [m.level_tag for m in answer.context["messages"]] == ["error"]
    twin.refresh_from_db()
    assert twin.merged_into is None and Account.objects.filter(contact=twin).count() == 2


def test_viewing_needs_view_permission_and_merging_needs_change(client, client_with_twin):
    anna, twin = client_with_twin
    client.force_login(staff("nobody"))
    assert client.get(profiles_url(anna)).status_code == 403
    client.force_login(staff("viewer", "view_contact"))
    page = client.get(profiles_url(anna))
    assert page.status_code == 200 and "Бонусы центра" in page.content.decode()
    assert 'name="merge"' not in page.content.decode()
    assert client.post(profiles_url(anna), {"merge": twin.pk}).status_code == 403
    twin.refresh_from_db()
    assert twin.merged_into is None
    client.force_login(staff("editor", "view_contact", "change_contact"))
    client.post(profiles_url(anna), {"merge": twin.pk})
    twin.refresh_from_db()
    assert twin.merged_into == anna


def test_merge_needs_the_csrf_token(client_with_twin):
    from django.test import Client

    anna, twin = client_with_twin
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(User.objects.create_superuser("boss", password="x"))
    assert strict.post(profiles_url(anna), {"merge": twin.pk}).status_code == 403
    twin.refresh_from_db()
    assert twin.merged_into is None


def test_unknown_contact_is_404(admin_client):
    assert admin_client.get(reverse("admin:hub_contact_profiles", args=[999999])).status_code == 404


def test_contact_list_shows_and_filters_the_stage(admin_client):
    anna = Contact.objects.create(first_name="Анна")
    boris = Contact.objects.create(first_name="Борис")
    ClientLifecycle.objects.create(contact=anna, stage="lapsing", since=TODAY, computed_on=TODAY)
    ClientLifecycle.objects.create(contact=boris, stage="active", since=TODAY, computed_on=TODAY)
    page = admin_client.get(reverse("admin:hub_contact_changelist"), {"lifecycle__stage": "lapsing"})
    assert page.status_code == 200
    shown = {row.pk for row in page.context["cl"].result_list}
    assert shown == {anna.pk}
    change = admin_client.get(reverse("admin:hub_contact_change", args=[anna.pk])).content.decode()
    assert "01.06.2026" in change


def test_policy_is_one_row_that_cannot_be_deleted(admin_client):
    add = reverse("admin:hub_lifecyclepolicy_add")
    assert admin_client.get(add).status_code == 200
    answer = admin_client.post(add, {"new_days": 10, "lapsing_after_days": 40, "lost_after_days": 90,
                                     "returned_days": 20})
    assert answer.status_code == 302
    policy = LifecyclePolicy.objects.get()
    assert admin_client.get(add).status_code == 403
    assert admin_client.get(reverse("admin:hub_lifecyclepolicy_delete", args=[policy.pk])).status_code == 403
    change = reverse("admin:hub_lifecyclepolicy_change", args=[policy.pk])
    admin_client.post(change, {"new_days": 14, "lapsing_after_days": 40, "lost_after_days": 90, "returned_days": 20})
    policy.refresh_from_db()
    assert policy.new_days == 14


def test_stages_and_changes_are_read_only_lists_searchable_by_contact_id(admin_client):
    anna = Contact.objects.create(first_name="Анна")
    boris = Contact.objects.create(first_name="Борис")
    row = ClientLifecycle.objects.create(contact=anna, stage="lost", since=TODAY, computed_on=TODAY)
    ClientLifecycle.objects.create(contact=boris, stage="new", since=TODAY, computed_on=TODAY)
    LifecycleChange.objects.create(contact=anna, from_stage="lapsing", to_stage="lost", changed_on=TODAY)
    listing = admin_client.get(reverse("admin:hub_clientlifecycle_changelist"), {"q": str(anna.pk)})
    assert [r.pk for r in listing.context["cl"].result_list] == [row.pk]
    by_stage = admin_client.get(reverse("admin:hub_clientlifecycle_changelist"), {"stage__exact": "new"})
    assert [r.contact for r in by_stage.context["cl"].result_list] == [boris]
    assert admin_client.get(reverse("admin:hub_clientlifecycle_changelist"), {"q": "x"}).status_code == 200
    assert admin_client.get(reverse("admin:hub_clientlifecycle_add")).status_code == 403
    detail = admin_client.get(reverse("admin:hub_clientlifecycle_change", args=[row.pk])).content.decode()
    assert 'name="stage"' not in detail  # view only
    changes = admin_client.get(reverse("admin:hub_lifecyclechange_changelist"), {"to_stage__exact": "lost"})
    assert len(changes.context["cl"].result_list) == 1
    assert admin_client.get(reverse("admin:hub_lifecyclechange_add")).status_code == 403
