"""Templates and dates travel to the site through the outbox (retried, never lost, newest
state wins); what the site answered comes back here and is written into the deal: the site's
id and a readable sync state the manager sees in the CRM."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from events.models import EventDate, EventSetup, EventTemplate, SyncState
from hub.services.external_refs import external_ref_for_local, external_ref_link
from hub.services.outbox import outbox_publish

TEMPLATE = "event_template.upsert"
DATE = "event_date.upsert"
DEAL_FIELDS = "event_deal.upsert"  # the site's id and the sync state, into the CRM deal


def event_template_publish(template: EventTemplate) -> None:
    outbox_publish(TEMPLATE, "event_template", template.pk,
                   {"title": template.title, "description_html": template.description_html,
                    "image_url": template.image_url})
    event_deal_publish(template)


def event_date_values(event: EventDate) -> dict[str, str]:
    """What the site may hold of this date now: title always, the rest as stages release it."""
    released = {role for push in event.setup.stage_pushes.all() if push.stage_id in (event.reached_stages or [])
                for role in push.roles}
    values: dict[str, str] = {"title": event.title}
    if "starts_at" in released:
        values["starts_at"] = event.starts_at.isoformat() if event.starts_at else ""
    if "speaker" in released:
        values["speaker"] = event.speaker
    if "host" in released:
        values["host"] = event.host
    return values


def event_date_publish(event: EventDate) -> None:
    outbox_publish(DATE, "event_date", event.pk,
                   {"template": event.template_id, "template_site_id": event.template_site_id,
                    "values": event_date_values(event)})
    event_deal_publish(event)


def site_id_of(item: EventTemplate | EventDate) -> str:
    ref = external_ref_for_local(item.setup.site, _kind(item), item.pk)
    return ref.external_id if ref else ""


def _kind(item: EventTemplate | EventDate) -> str:
    return "event_template" if isinstance(item, EventTemplate) else "event_date"


def _state_text(item: EventTemplate | EventDate, tz: ZoneInfo) -> str:
    if item.sync_state == SyncState.SYNCED and item.synced_at:
        text = f"На сайте, обновлено {timezone.localtime(item.synced_at, tz):%d.%m.%Y %H:%M}"
        image_error = getattr(item, "image_error", "")
        return text + (f"; без картинки: {image_error}" if image_error else "")
    if item.sync_state == SyncState.FAILED:
        return f"Не выгружено, хаб повторит: {item.sync_error}"[:255]
    return "Ожидает выгрузки на сайт"


def event_deal_publish(item: EventTemplate | EventDate) -> None:
    """The deal's "site id" and "sync state" fields, when the operator mapped them."""
    setup: EventSetup = item.setup
    roles = setup.template_fields if isinstance(item, EventTemplate) else setup.event_fields
    fields: dict[str, str] = {}
    if roles.get("site_id"):
        fields[str(roles["site_id"])] = site_id_of(item)
    if roles.get("sync_state"):
        fields[str(roles["sync_state"])] = _state_text(item, ZoneInfo(setup.crm.time_zone))
    if fields:
        outbox_publish(DEAL_FIELDS, _kind(item), item.pk, {"deal_id": item.crm_deal_id, "fields": fields})


@transaction.atomic
def event_synced(item: EventTemplate | EventDate, site_id: str, digest: str, image_error: str = "",
                 image: tuple[bytes, str] | None = None) -> None:
    """The site holds it now: remember its id (and the values, so an unchanged state is not
    sent again), tell the deal, and link sales that waited for this event."""
    from events.services.sales import ticket_sales_link  # sales import publishing: avoid a cycle

    external_ref_link(item.setup.site, _kind(item), item.pk, site_id, digest=digest)
    updates: dict[str, Any] = {"sync_state": SyncState.SYNCED, "sync_error": "", "synced_at": timezone.now()}
    if isinstance(item, EventTemplate):
        updates["image_error"] = image_error[:500]
        if image is not None:
            updates["image"], updates["image_type"] = image
    type(item).objects.filter(pk=item.pk).update(**updates)
    item.refresh_from_db()
    event_deal_publish(item)
    if isinstance(item, EventDate):
        ticket_sales_link(item, site_id)


@transaction.atomic
def event_sync_failed(item: EventTemplate | EventDate, error: str, *, tell_deal: bool) -> None:
    """Shown in admin every time; written into the deal on the first failure of a run, not
    on every retry."""
    type(item).objects.filter(pk=item.pk).update(sync_state=SyncState.FAILED, sync_error=error[:500])
    if tell_deal:
        item.refresh_from_db()
        event_deal_publish(item)

