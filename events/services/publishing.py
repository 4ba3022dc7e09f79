"""Templates and dates travel to the site through the outbox (retried, never lost, newest
state wins); what the site answered comes back here and is written into the deal: the site's
id and a readable sync state the manager sees in the CRM."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from events.models import EventDate, EventSetup, EventTemplate, SyncState
from hub.models import ExternalRef
from hub.services.external_refs import external_ref_for_local, external_ref_link
from hub.services.outbox import outbox_publish

TEMPLATE = "event_template.upsert"
DATE = "event_date.upsert"
DEAL_FIELDS = "event_deal.upsert"  # the site's id and the sync state, into the CRM deal


def _publish(item: EventTemplate | EventDate, action: str, payload: dict[str, Any], force: bool) -> None:
    """Queue the item for its site. ``force`` (the operator's "send again") forgets what the
    site was last sent, so even an unchanged item goes. When nothing needed sending (the site
    already holds exactly this: an edit undone before it went), the item is on the site."""
    site = item.setup.site
    if force:
        ExternalRef.objects.filter(connection=site, kind=_kind(item), local_id=item.pk).update(fingerprint="")
    queued = any(row.connection_id == site.pk for row in outbox_publish(action, _kind(item), item.pk, payload))
    if not queued and site.enabled and site_id_of(item) and item.sync_state != SyncState.SYNCED:
        type(item).objects.filter(pk=item.pk).update(sync_state=SyncState.SYNCED, sync_error="")
        item.sync_state, item.sync_error = SyncState.SYNCED, ""
    event_deal_publish(item)


def event_template_publish(template: EventTemplate, *, force: bool = False) -> None:
    _publish(template, TEMPLATE, {"title": template.title, "description_html": template.description_html,
                                  "image_url": template.image_url}, force)


def event_date_values(event: EventDate) -> dict[str, str]:
    """What the site may hold of this date now: title always, the rest as stages release it."""
    released = {role for push in event.setup.stage_pushes.all() if push.stage_id in (event.reached_stages or [])
                for role in push.roles}
    values: dict[str, str] = {"title": event.title}
    if "starts_at" in released:
        tz = ZoneInfo(event.setup.crm.time_zone)  # one spelling of the moment: no resend for an offset
        values["starts_at"] = timezone.localtime(event.starts_at, tz).isoformat() if event.starts_at else ""
    if "speaker" in released:
        values["speaker"] = event.speaker
    if "host" in released:
        values["host"] = event.host
    return values


def event_date_publish(event: EventDate, *, force: bool = False) -> None:
    _publish(event, DATE, {"template": event.template_id, "template_site_id": event.template_site_id,
                           "values": event_date_values(event)}, force)


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
    if item.sync_state == SyncState.REFUSED:
        return f"Сайт не принял: {item.sync_error}"[:255]
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
                 image: tuple[str, bytes, str] | None = None) -> None:
    """The site holds it now: remember its id (and the values, so an unchanged state is not
    sent again), tell the deal, and link sales that waited for this event."""
    from events.services.sales import ticket_sales_link  # sales import publishing: avoid a cycle

    external_ref_link(item.setup.site, _kind(item), item.pk, site_id, digest=digest)
    updates: dict[str, Any] = {"sync_state": SyncState.SYNCED, "sync_error": "", "synced_at": timezone.now()}
    if isinstance(item, EventTemplate):
        updates["image_error"] = image_error[:500]
    type(item).objects.filter(pk=item.pk).update(**updates)
    if image is not None:  # kept for the next push, unless the deal has linked another picture meanwhile
        url, data, content_type = image
        EventTemplate.objects.filter(pk=item.pk, image_url=url).update(image=data, image_type=content_type)
    item.refresh_from_db()
    event_deal_publish(item)
    if isinstance(item, EventDate):
        ticket_sales_link(item, site_id)
    else:  # dates that were refused with it go again; those merely waiting are retried by themselves
        for event in item.dates.filter(sync_state=SyncState.REFUSED).select_related("setup__site", "setup__crm"):
            event_date_publish(event, force=True)


@transaction.atomic
def event_sync_failed(item: EventTemplate | EventDate, error: str, *, final: bool) -> None:
    """Shown in admin; written into the deal when the state changes, not on every retry of
    an outage. ``final``: the site refused it, the hub will not retry on its own."""
    state = SyncState.REFUSED if final else SyncState.FAILED
    changed = (item.sync_state, item.sync_error) != (state, error[:500])
    type(item).objects.filter(pk=item.pk).update(sync_state=state, sync_error=error[:500])
    item.sync_state, item.sync_error = state, error[:500]
    if changed:
        event_deal_publish(item)

