"""Roles on every admin model: what an operator, a manager and an auditor may see and do.

The expectations are written out here, model by model, rather than derived from
``hub.services.roles``: a model that lands in the wrong role fails this file."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client, RequestFactory
from django.urls import reverse

from analytics.pages import PAGES
from hub.models import Connection, Contact, Outbox
from hub.services.roles import AUDITOR, MANAGER, OPERATOR, roles_sync
from loyalty.models import Entry, GrantLimit

BEAT = {"django_celery_beat.solarschedule", "django_celery_beat.intervalschedule", "django_celery_beat.clockedschedule",
        "django_celery_beat.crontabschedule", "django_celery_beat.periodictask"}
HIDDEN = {
    "operator": {"auth.user", "auth.group"},
    "manager": {"auth.user", "auth.group", *BEAT, "hub.connection", "hub.syncursor", "hub.externalref", "hub.inbox",
                "hub.outbox", "loyalty.apikey"},
    "auditor": set(),
}
# Models whose add form the role may open (admins that never allow adding are left out).
ADD = {
    "operator": {*BEAT, "hub.connection", "hub.syncursor", "hub.productcategory", "hub.product", "hub.servicepoint",
                 "hub.tag", "hub.segment", "hub.lifecyclepolicy", "hub.consenttext", "mailings.template",
                 "mailings.campaign", "bots.bottext",
                 "loyalty.program", "loyalty.birthdaybonus", "loyalty.earningrule", "loyalty.promocode",
                 "loyalty.purchaselimit", "loyalty.certificatetype", "loyalty.subscriptionplan",
                 "loyalty.referralprogram", "loyalty.apikey", "loyalty.grantlimit", "bookings.resource"},
    "manager": {"hub.contact", "hub.contactrelation", "hub.card", "hub.tag", "hub.dialogmessage", "bookings.booking",
                "bookings.preorder", "loyalty.certificate", "loyalty.subscription"},
    "auditor": set(),
}
# Models whose rows the role may change (whatever the admin shows as editable).
CHANGE = {
    "operator": ADD["operator"] | {"hub.inbox", "hub.outbox", "events.eventsetup", "events.eventtemplate",
                                   "events.eventdate"},
    "manager": {"hub.contact", "hub.contactrelation", "hub.card", "hub.clientrequest", "bookings.booking",
                "bookings.preorder", "loyalty.certificate", "loyalty.subscription"},
    "auditor": set(),
}
DELETE = {
    # consent texts are published versions; the lifecycle policy is a single row
    "operator": CHANGE["operator"] - {"hub.consenttext", "hub.lifecyclepolicy", "hub.inbox", "hub.outbox"},
    "manager": set(),
    "auditor": set(),
}
ROLE = {"operator": OPERATOR, "manager": MANAGER, "auditor": AUDITOR}


def _label(model: type) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _staff(role: str) -> object:
    user = get_user_model().objects.create_user(f"{role}-user", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE[role].name))
    return user


@pytest.fixture
def roles(db: None) -> None:
    roles_sync()


def _may(model_admin: admin.ModelAdmin, user: object, action: str) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user
    return getattr(model_admin, f"has_{action}_permission")(request)


@pytest.mark.parametrize("role", sorted(ROLE))
def test_each_role_sees_and_edits_exactly_its_models(roles: None, role: str) -> None:
    user = _staff(role)
    client = Client()
    client.force_login(user)
    wrong = []
    for model, model_admin in admin.site._registry.items():
        label = _label(model)
        info = model._meta.app_label, model._meta.model_name
        listed = client.get(reverse("admin:{}_{}_changelist".format(*info))).status_code
        if listed != (403 if label in HIDDEN[role] else 200):
            wrong.append(f"{label}: list {listed}")
        for action, expected in (("add", ADD), ("change", CHANGE), ("delete", DELETE)):
            if _may(model_admin, user, action) != (label in expected[role]):
                wrong.append(f"{label}: {action} {'refused' if label in expected[role] else 'allowed'}")
        if label in ADD[role]:
            added = client.get(reverse("admin:{}_{}_add".format(*info))).status_code
            if added != 200:
                wrong.append(f"{label}: add page {added}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("role", sorted(ROLE))
def test_a_role_cannot_open_any_add_page_it_was_not_given(roles: None, role: str) -> None:
    client = Client()
    client.force_login(_staff(role))
    opened = [label for model in admin.site._registry if (label := _label(model)) not in ADD[role]
              and client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")).status_code
              == 200]
    assert opened == []


PAGES = [  # (url name, args) → roles that may open it
    (("admin:loyalty_grant", ()), {"manager"}),
    (("admin:loyalty_mass_accrual", ()), {"operator"}),
    (("admin:bookings_calendar", ()), {"operator", "manager", "auditor"}),
    (("admin:loyalty_calculate", ()), {"operator", "manager", "auditor"}),
    (("admin:loyalty_offer_results", ()), {"operator", "manager", "auditor"}),
    (("events_report", ()), {"operator", "manager", "auditor"}),
    (("audit_log", ()), {"operator", "manager", "auditor"}),
    (("admin:hub_contact_import", ()), {"manager"}),
    (("admin:hub_product_import", ()), {"operator"}),
    (("admin:hub_contact_export", ("csv",)), {"operator", "manager", "auditor"}),
    (("connection_wizard", ()), {"operator"}),
    (("analytics_index", ()), {"operator", "manager", "auditor"}),
    *(((page.url_name, ()), {"operator", "manager", "auditor"}) for page in PAGES),
]


@pytest.mark.parametrize(("page", "allowed"), PAGES, ids=[p[0][0].removeprefix("admin:") for p in PAGES])
def test_custom_admin_pages_follow_the_roles(roles: None, page: tuple[str, tuple], allowed: set[str]) -> None:
    name, args = page
    for role in ROLE:
        client = Client()
        client.force_login(_staff(role))
        status = client.get(reverse(name, args=args)).status_code
        assert (status == 200) == (role in allowed), (role, status)
        get_user_model().objects.filter(username=f"{role}-user").delete()


def test_crm_routing_is_for_those_who_configure_connections(roles: None) -> None:
    crm = Connection.objects.create(name="CRM", system="amocrm")
    for role, expected in (("manager", 403), ("auditor", 403)):
        client = Client()
        client.force_login(_staff(role))
        assert client.get(reverse("crm_routing", args=[crm.pk])).status_code == expected


def test_replay_is_offered_only_to_those_who_may_change_the_queue(roles: None) -> None:
    Outbox.objects.create(connection=Connection.objects.create(name="CRM", system="amocrm"), action="contact.upsert",
                          status=Outbox.Status.DEAD)
    for role, offered in (("operator", True), ("auditor", False)):
        client = Client()
        client.force_login(_staff(role))
        page = client.get(reverse("admin:hub_outbox_changelist")).content.decode()
        assert ('value="replay"' in page) == offered, role


def test_roles_sync_is_repeatable_and_keeps_an_operators_grant_limit(roles: None) -> None:
    limit = GrantLimit.objects.get(group__name=MANAGER.name)
    assert limit.max_points == Decimal("1000")
    limit.max_points = Decimal("300")
    limit.save()
    before = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    roles_sync()
    after = {g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()}
    assert before == after
    assert GrantLimit.objects.get(group__name=MANAGER.name).max_points == Decimal("300")


def test_roles_sync_takes_back_a_permission_added_by_hand(roles: None) -> None:
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name=AUDITOR.name)
    group.permissions.add(Permission.objects.get(codename="change_contact"))
    roles_sync()
    assert not group.permissions.filter(codename="change_contact").exists()


def test_a_manager_grants_within_the_limit_and_is_refused_above_it(roles: None) -> None:
    manager = _staff("manager")
    client = Client()
    client.force_login(manager)
    anna = Contact.objects.create(first_name="Анна", phone="+79990000001")
    refused = client.post(reverse("admin:loyalty_grant"), {"contact": anna.pk, "points": "1500", "reason": "жалоба",
                                                     "key": "k1"})
    assert refused.status_code == 200
    assert "Ваш лимит — 1000.00 баллов" in refused.content.decode()
    assert not Entry.objects.exists()
    done = client.post(reverse("admin:loyalty_grant"), {"contact": anna.pk, "points": "500", "reason": "жалоба",
                                                  "key": "k2"})
    assert done.status_code == 302
    entry = Entry.objects.get()
    assert (entry.points, entry.actor) == (Decimal("500.00"), manager)
    assert entry.history.get().history_user == manager


def test_contact_edits_are_recorded_with_who_made_them_and_the_auditor_reads_them(roles: None) -> None:
    manager = _staff("manager")
    anna = Contact.objects.create(first_name="Анна", phone="+79990000001")
    client = Client()
    client.force_login(manager)
    page = client.get(reverse("admin:hub_contact_change", args=[anna.pk]))
    form = page.context["adminform"].form
    data = {key: value for key, value in form.initial.items() if value is not None and not isinstance(value, list)}
    data.update({"first_name": "Анна-Мария", "phone": "+79990000001"})
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({f"{management.prefix}-{k}": v for k, v in management.initial.items()})
    answer = client.post(reverse("admin:hub_contact_change", args=[anna.pk]), data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    latest = anna.history.latest()
    assert (latest.first_name, latest.history_user, latest.history_type) == ("Анна-Мария", manager, "~")
    auditor = Client()
    auditor.force_login(_staff("auditor"))
    history = auditor.get(reverse("admin:hub_contact_history", args=[anna.pk]))
    assert history.status_code == 200
    assert "Анна-Мария" in history.content.decode() or "manager-user" in history.content.decode()
    first = anna.history.earliest().history_id
    revert = reverse("admin:hub_contact_simple_history", args=[anna.pk, first])
    shown = client.get(revert)  # the manager's own view of the old version: a complete, valid form
    version = {key: value for key, value in shown.context["adminform"].form.initial.items()
               if value is not None and not isinstance(value, list)}
    version.update({k: v for k, v in data.items() if "-" in k})
    assert auditor.post(revert, version).status_code == 403
    anna.refresh_from_db()
    assert anna.first_name == "Анна-Мария"


def test_a_connections_history_never_holds_its_secrets(roles: None) -> None:
    connection = Connection.objects.create(name="CRM", system="amocrm", credentials={"token": "s3cret"})
    connection.name = "CRM main"
    connection.save()
    fields = {f.name for f in Connection.history.model._meta.fields}
    assert "credentials" not in fields
    assert [h.name for h in connection.history.order_by("history_date")] == ["CRM", "CRM main"]
