"""Reads of the connection wizard: which steps a system has, the saved routing as a table,
the test contact and the latest inbound event of a connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings as django_settings
from django.urls import reverse

from connectors.base.connector import Connector
from connectors.crm.connector import CrmConnector
from connectors.crm.setup import EVENT_KINDS
from connectors.wizard.services import CONTACT_UPSERT, TEST_PHONE
from connectors.wizard.systems import SystemSpec, spec_for
from hub.models import Connection, Contact, ContactIdentity, ExternalRef, Inbox, Outbox
from hub.services.normalize import phone_normalize
from hub.sync import registry

STEP_TITLES = {"system": "Система", "credentials": "Учётные данные", "check": "Проверка связи",
               "routing": "Воронки и поля", "webhooks": "Вебхуки", "final": "Итоговая проверка"}


ALL_STEPS = ["credentials", "check", "routing", "webhooks", "final"]


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    state: str  # "done" | "current" | "pending"
    url: str


def wizard_steps(system: str) -> list[str]:
    """The steps after choosing the system: routing for CRMs, webhooks where the system sends any."""
    spec, connector = spec_for(system), registry.get(system)
    steps = ["credentials", "check"]
    if isinstance(connector, CrmConnector):
        steps.append("routing")
    if spec is not None and spec.webhook_where:
        steps.append("webhooks")
    return [*steps, "final"]


def wizard_progress(system: str, current: str, connection: Connection | None = None) -> list[Step]:
    """The step list shown on top: those before the current one are done, those after pending.
    Before a system is chosen, every step any system may have."""
    slugs = ["system", *(wizard_steps(system) if system else ALL_STEPS)]
    position = slugs.index(current)
    steps = []
    for n, slug in enumerate(slugs):
        if slug == "system":
            url = reverse("connection_wizard")
        elif connection is not None:
            url = reverse("connection_wizard_step", args=[connection.pk, slug])
        else:
            url = f"{reverse('connection_wizard')}?system={system}" if slug == "credentials" else ""
        state = "done" if n < position else "current" if n == position else "pending"
        steps.append(Step(slug, STEP_TITLES[slug], state, url))
    return steps


def wizard_neighbours(connection: Connection, current: str) -> tuple[str, str]:
    """URLs of the previous and next step ("" at either end)."""
    slugs = wizard_steps(connection.system)
    n = slugs.index(current)
    back = (reverse("connection_wizard_step", args=[connection.pk, slugs[n - 1]]) if n > 0
            else f"{reverse('connection_wizard')}")
    forward = reverse("connection_wizard_step", args=[connection.pk, slugs[n + 1]]) if n + 1 < len(slugs) else ""
    return back, forward


def wizard_systems() -> list[tuple[str, str, str]]:
    """(system, title, one-line description) of every installed system the wizard knows."""
    return [(system, title, spec.description) for system, title in registry.systems()
            if (spec := spec_for(system)) is not None]


def wizard_connections() -> list[Connection]:
    """Existing connections the wizard can take up again."""
    known = [system for system, _ in registry.systems() if spec_for(system) is not None]
    return list(Connection.objects.filter(system__in=known).order_by("system", "name"))


def final_kind(system: str) -> str:
    """"pull" for polled systems, "push" for those the hub sends contacts to, else "inbox"."""
    connector = registry.get(system)
    if connector is None:
        return "inbox"
    if connector.can_pull:
        return "pull"
    if CONTACT_UPSERT in connector.subscribes:
        return "push"
    return "inbox"


def registers_webhook(system: str) -> bool:
    """Whether the system takes its webhook URL by API (a bot's setWebhook)."""
    connector = registry.get(system)
    return connector is not None and type(connector).register_webhook is not Connector.register_webhook


def webhook_url(connection: Connection, spec: SystemSpec) -> str:
    return f"{django_settings.HUB_PUBLIC_URL}{connection.webhook_path}{spec.webhook_suffix}"


def routing_table(connection: Connection) -> list[dict[str, str]]:
    """The saved routes as the operator reads them: event → pipeline / stage, by name."""
    catalog = connection.settings.get("crm_catalog") or {}
    pipelines = {str(p["id"]): p for p in catalog.get("pipelines", [])}
    rows = []
    for kind, route in (connection.settings.get("routes") or {}).items():
        pipeline = pipelines.get(str(route.get("pipeline_id")))
        stages = {str(s["id"]): s["name"] for s in (pipeline or {}).get("stages", [])}
        rows.append({"kind": kind, "event": EVENT_KINDS.get(kind, kind),
                     "pipeline": pipeline["name"] if pipeline else f"#{route.get('pipeline_id')}",
                     "stage": stages.get(str(route.get("stage_id")), f"#{route.get('stage_id')}")})
    return rows


def wizard_test_contact_find() -> Contact | None:
    """The wizard's test contact if it was ever made (nothing is created here)."""
    identity = (ContactIdentity.objects.select_related("contact")
                .filter(kind=ContactIdentity.Kind.PHONE, value=phone_normalize(TEST_PHONE)).first())
    return identity.contact if identity else None


def wizard_test_contact_state(connection: Connection) -> dict[str, Any]:
    """The test contact, its id in this connection and its latest outbox row, for the final page."""
    contact = wizard_test_contact_find()
    if contact is None:
        return {}
    ref = ExternalRef.objects.filter(connection=connection, kind="contact", local_id=contact.pk,
                                     missing_since__isnull=True).first()
    row = (Outbox.objects.filter(connection=connection, action=CONTACT_UPSERT, target_kind="contact",
                                 target_id=contact.pk).order_by("-pk").first())
    return {"contact": contact, "external_id": ref.external_id if ref else "", "outbox": row}


def latest_inbox(connection: Connection) -> Inbox | None:
    """The newest event the system sent this connection (what a real test produces)."""
    return Inbox.objects.filter(connection=connection).order_by("-received_at", "-pk").first()
