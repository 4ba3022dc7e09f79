"""Staff roles as Django groups: operator, manager, auditor.

Kept in code, not clicked together in admin, so every new model lands in the right roles on
the next ``migrate`` (``roles_sync`` runs after it) and the permission tests pin what each role
may do. A person may hold several roles; superusers need none.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction

VIEW = ("view",)
EDIT = ("view", "add", "change")
ALL = ("view", "add", "change", "delete")


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    #: "app_label.model" or "app_label.*" → the actions allowed on it (beyond what ``view_all`` gives).
    grants: dict[str, tuple[str, ...]]
    #: Extra permissions as "app_label.codename".
    extra: tuple[str, ...] = ()
    #: View every model except those in ``hidden`` (app labels or "app_label.model").
    view_all: bool = True
    hidden: tuple[str, ...] = ()
    #: Points one manual grant may move; None leaves the grant limit to the operator.
    grant_limit: Decimal | None = None


OPERATOR = Role(
    name="Оператор",
    description="Настраивает подключения, каталог, программы лояльности, рассылки, ботов и расписания; "
                "видит всё, клиентов не правит.",
    grants={
        "hub.connection": ALL, "hub.syncursor": ALL, "hub.externalref": VIEW, "hub.inbox": ("view", "change"),
        "hub.outbox": ("view", "change"), "hub.productcategory": ALL, "hub.product": ALL,
        "hub.servicepoint": ALL, "hub.tag": ALL, "hub.segment": ALL, "hub.lifecyclepolicy": ALL,
        "hub.consenttext": EDIT,
        "django_celery_beat.*": ALL,
        "mailings.template": ALL, "mailings.campaign": ALL,
        "bots.bottext": ALL,
        "events.eventsetup": ALL, "events.eventtemplate": ALL, "events.eventdate": ALL,
        "events.eventstagepush": ALL,
        "loyalty.program": ALL, "loyalty.tier": ALL, "loyalty.categoryrate": ALL, "loyalty.birthdaybonus": ALL,
        "loyalty.earningrule": ALL, "loyalty.promocode": ALL, "loyalty.purchaselimit": ALL,
        "loyalty.certificatetype": ALL, "loyalty.subscriptionplan": ALL, "loyalty.referralprogram": ALL,
        "loyalty.apikey": ALL, "loyalty.grantlimit": ALL, "loyalty.programrequest": ("view", "change"),
        "bookings.resource": ALL,
    },
    extra=("loyalty.mass_accrue",),
    hidden=("auth", "sessions", "contenttypes", "admin.logentry"),
)

MANAGER = Role(
    name="Менеджер",
    description="Работает с клиентами и бронями, начисляет баллы в пределах лимита; "
                "подключения и настройки не видит.",
    grants={
        "hub.contact": EDIT, "hub.contactidentity": EDIT, "hub.contactrelation": EDIT, "hub.card": EDIT,
        "hub.tag": ("view", "add"), "hub.clientrequest": ("view", "change"),
        "hub.consentrecord": ("view", "change"), "hub.dialogmessage": ("view", "add"),
        "bookings.booking": EDIT, "bookings.bookingline": ALL, "bookings.reservation": ALL,
        "bookings.preorder": EDIT, "bookings.preorderline": ALL,
        "loyalty.entry": ("view", "add"), "loyalty.certificate": EDIT, "loyalty.subscription": EDIT,
    },
    hidden=("auth", "sessions", "contenttypes", "admin.logentry", "django_celery_beat", "hub.connection",
            "hub.syncursor", "hub.externalref", "hub.inbox", "hub.outbox", "hub.crmdealstate",
            "hub.historicalconnection", "loyalty.apikey"),
    grant_limit=Decimal("1000"),
)

AUDITOR = Role(
    name="Аудитор",
    description="Только просмотр: всё, включая историю изменений; ничего не меняет.",
    grants={},
    hidden=("sessions", "contenttypes", "auth.permission"),
)

ROLES = (OPERATOR, MANAGER, AUDITOR)


def _hidden(role: Role, app_label: str, model: str) -> bool:
    return app_label in role.hidden or f"{app_label}.{model}" in role.hidden


def role_permissions(role: Role) -> set[tuple[str, str]]:
    """(app_label, codename) pairs the role holds, computed from the installed models."""
    wanted: set[tuple[str, str]] = set()
    for model in apps.get_models():
        label, name = model._meta.app_label, model._meta.model_name
        actions = set(role.grants.get(f"{label}.{name}", ()) or role.grants.get(f"{label}.*", ()))
        if role.view_all and not _hidden(role, label, name):
            actions.add("view")
        wanted.update((label, f"{action}_{name}") for action in actions)
    wanted.update(tuple(code.split(".", 1)) for code in role.extra)  # type: ignore[misc]
    return wanted


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create or refresh the role groups to hold exactly their permissions; returns counts."""
    from loyalty.models import GrantLimit  # loyalty depends on hub, not the other way round

    known = {(p.content_type.app_label, p.codename): p
             for p in Permission.objects.select_related("content_type")}
    counts = {}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        perms = [known[key] for key in sorted(role_permissions(role)) if key in known]
        group.permissions.set(perms)
        if role.grant_limit is not None:
            GrantLimit.objects.get_or_create(group=group, defaults={"max_points": role.grant_limit})
        counts[role.name] = len(perms)
    return counts
