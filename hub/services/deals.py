"""CRM deals as the domain sees them: which stage a deal is in and when it moved. Bookings,
NPS surveys and site events listen to ``deal_moved`` (site events to ``deal_updated`` too);
none of them knows which CRM spoke."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.dispatch import Signal

from hub.models import Connection, CrmDealState
from hub.services.outbox import outbox_publish

log = logging.getLogger(__name__)

# sender=Connection; deal=CrmDealView; previous=(pipeline_id, stage_id) or ("", "") for a new deal.
# Receivers run inside the transaction that records the move: if one fails, the move is not
# recorded and the CRM event is retried.
deal_moved = Signal()
# Same arguments; the deal stayed in its stage but something else in it changed (a field, the
# title). Listeners that mirror a deal's content elsewhere (site events) need edits too.
deal_updated = Signal()


@dataclass(frozen=True)
class CrmDealView:
    id: str
    pipeline_id: str
    stage_id: str
    title: str = ""
    amount: str = "0"
    contact_id: str = ""
    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_neutral(cls, data: dict[str, Any]) -> CrmDealView:
        return cls(id=str(data["id"]), pipeline_id=str(data.get("pipeline_id") or ""),
                   stage_id=str(data.get("stage_id") or ""), title=str(data.get("title") or ""),
                   amount=str(data.get("amount") or "0"), contact_id=str(data.get("contact_id") or ""),
                   fields={str(k): str(v) for k, v in (data.get("fields") or {}).items()})


def deal_triggered(connection: Connection, deal: CrmDealView, name: str) -> bool:
    """Is the deal in the stage the operator named for ``name`` (settings ``<name>_request``)?"""
    trigger = connection.settings.get(f"{name}_request") or {}
    return bool(trigger) and (str(trigger.get("pipeline_id")), str(trigger.get("stage_id"))) == (
        deal.pipeline_id, deal.stage_id)


def deal_trigger_field(connection: Connection, deal: CrmDealView, name: str, role: str) -> str:
    """The deal's value of the field mapped to ``role`` for ``name`` (settings ``<name>_fields``)."""
    field_id = (connection.settings.get(f"{name}_fields") or {}).get(role)
    return deal.fields.get(str(field_id), "").strip() if field_id else ""


def crm_deal_seen(connection: Connection, deal: CrmDealView) -> bool:
    """Record the deal's stage; when it differs from the last one seen, tell the listeners.
    Returns whether it moved."""
    with transaction.atomic():
        state, created = CrmDealState.objects.select_for_update().get_or_create(
            connection=connection, external_id=deal.id,
            defaults={"pipeline_id": deal.pipeline_id, "stage_id": deal.stage_id, "data": asdict(deal)})
        previous = ("", "") if created else (state.pipeline_id, state.stage_id)
        moved = previous != (deal.pipeline_id, deal.stage_id)
        edited = not created and not moved and state.data != asdict(deal)
        if not created:
            state.pipeline_id, state.stage_id, state.data = deal.pipeline_id, deal.stage_id, asdict(deal)
            state.save(update_fields=["pipeline_id", "stage_id", "data", "updated_at"])
        if moved:
            log.info("CRM deal %s on connection %s moved %s → %s/%s", deal.id, connection.pk, previous,
                     deal.pipeline_id, deal.stage_id)
            deal_moved.send(sender=Connection, connection=connection, deal=deal, previous=previous)
        elif edited:
            deal_updated.send(sender=Connection, connection=connection, deal=deal, previous=previous)
    return moved


def crm_deals_created(connection: Connection, deals: list[CrmDealView]) -> None:
    """Deals the hub itself created start where it put them: a manager's first move of one
    is then known as A → B, not as a new deal."""
    CrmDealState.objects.bulk_create(
        [CrmDealState(connection=connection, external_id=d.id, pipeline_id=d.pipeline_id, stage_id=d.stage_id,
                      data=asdict(d)) for d in deals], ignore_conflicts=True)


def crm_deal_note(connection: Connection, deal_id: str, text: str) -> None:
    """A note into one CRM deal (an answer to what its manager asked), through the outbox."""
    state, _ = CrmDealState.objects.get_or_create(connection=connection, external_id=str(deal_id))
    outbox_publish("deal.note", "crm_deal", state.pk, {"text": text})
