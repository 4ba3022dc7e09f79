"""The hub side of every CRM, in terms of the CRM port: contacts with their card, deals
per event kind into the pipeline/stage the operator routed, CRM changes back into the hub."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.utils import timezone

from bookings.models import Preorder
from connectors.base.connector import Connector
from connectors.crm import cards
from connectors.crm.port import CrmContact, CrmDeal, CrmEvent, CrmPort
from hub.models import Connection, Contact, ExternalRef, Inbox, Outbox, Pass, Purchase
from hub.services.contacts import ContactData, contact_upsert
from hub.services.external_refs import (
    external_ref_for_local,
    external_ref_is_echo,
    external_ref_link,
    external_refs_link_many,
    fingerprint,
)
from hub.sync.errors import SyncError
from hub.sync.types import CheckResult, InboundEvent, PushResult

log = logging.getLogger(__name__)

DEAL_ACTIONS = {"purchase.created": "purchase", "pass.created": "pass", "preorder.upsert": "preorder"}


class CrmConnector(Connector):
    subscribes = frozenset({"contact.upsert", *DEAL_ACTIONS})
    can_pull = False
    adapter_class: Callable[[Connection], CrmPort]

    def adapter(self, connection: Connection) -> CrmPort:
        return self.adapter_class(connection)

    # ------------------------------------------------------------------ checks and set-up
    def check_connection(self, connection: Connection) -> CheckResult:
        try:
            pipelines = self.adapter(connection).list_pipelines()
        except SyncError as exc:
            return CheckResult(ok=False, message=f"Не удалось подключиться к CRM: {exc}")
        return CheckResult(ok=True, message=f"Подключение работает. Воронок: {len(pipelines)}.")

    # ------------------------------------------------------------------ routing
    @staticmethod
    def route(connection: Connection, kind: str) -> dict[str, str] | None:
        route = (connection.settings.get("routes") or {}).get(kind) or {}
        if route.get("pipeline_id") and route.get("stage_id"):
            return {"pipeline_id": str(route["pipeline_id"]), "stage_id": str(route["stage_id"])}
        return None

    def accepts(self, connection: Connection, action: str, target_kind: str, target_id: int | None,
                origin: Connection | None) -> bool:
        """Deals only for event kinds the operator routed to a pipeline; children are not CRM
        contacts of their own, they are shown on the parent's card."""
        if action == "contact.upsert" and target_id is not None:
            return not Contact.objects.filter(pk=target_id, category=Contact.Category.CHILD).exists()
        kind = DEAL_ACTIONS.get(action)
        return kind is None or self.route(connection, kind) is not None

    # outbound_fingerprint stays the base one (the whole snapshot): the card carries more
    # than names and phones (last pass, transactions…), so every change is sent.

    # ------------------------------------------------------------------ push
    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        port = self.adapter(connection)
        results: dict[int, PushResult] = {}
        contact_rows = [r for r in rows if r.action == "contact.upsert"]
        deal_rows = [r for r in rows if r.action in DEAL_ACTIONS]
        for row in rows:
            if row not in contact_rows and row not in deal_rows:
                results[row.pk] = PushResult(ok=False, retryable=False, error=f"CRM does not take {row.action}")
        if contact_rows:
            results.update(self._push_contacts(connection, port, contact_rows))
        if deal_rows:
            results.update(self._push_deals(connection, port, deal_rows))
        return results

    def _push_contacts(self, connection: Connection, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        contacts = cards.contacts_for_cards([row.target_id for row in rows])
        refs = dict(ExternalRef.objects.filter(connection=connection, kind="contact",
                                               local_id__in=list(contacts)).values_list("local_id", "external_id"))
        items: list[tuple[str, CrmContact, str]] = []
        results: dict[int, PushResult] = {}
        for row in rows:
            contact = contacts.get(row.target_id)
            if contact is None:
                results[row.pk] = PushResult(ok=False, retryable=False, error="contact no longer exists (merged?)")
                continue
            items.append((str(row.pk), cards.contact_card(contact, connection.time_zone), refs.get(contact.pk, "")))
        if items:
            ids = port.upsert_contacts(items)
            by_row = {row.pk: row for row in rows}
            links = []
            for key, card, _ in items:
                digest = fingerprint(cards.card_values(card))
                links.append(("contact", by_row[int(key)].target_id, ids[key], digest))
                results[int(key)] = PushResult(ok=True, external_id=ids[key], fingerprint=digest)
            # Linked now, not after the batch: deals in this same batch must find them.
            external_refs_link_many(connection, links)
        return results

    def _ensure_contact(self, connection: Connection, port: CrmPort, contact: Contact | None) -> str:
        """A deal needs its contact in the CRM first; created (and remembered) on the spot."""
        if contact is None:
            return ""
        ref = external_ref_for_local(connection, "contact", contact.pk)
        if ref:
            return ref.external_id
        card = cards.contact_card(cards.contacts_for_cards([contact.pk])[contact.pk], connection.time_zone)
        external_id = port.upsert_contacts([("c", card, "")])["c"]
        external_ref_link(connection, "contact", contact.pk, external_id, digest=fingerprint(cards.card_values(card)))
        return external_id

    def _push_deals(self, connection: Connection, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        items: list[tuple[str, CrmDeal, str]] = []
        line_refs: list[tuple[str, int]] = []
        results: dict[int, PushResult] = {}
        for row in rows:
            kind = DEAL_ACTIONS[row.action]
            route = self.route(connection, kind)
            built = self._deals_for(connection, port, row, kind, route) if route else None
            if not built:
                results[row.pk] = PushResult(ok=False, retryable=False, error=f"nothing to send for {row.action}")
                continue
            for n, (deal, line_id) in enumerate(built):
                ref = external_ref_for_local(connection, row.target_kind, row.target_id) if n == 0 and \
                    kind == "preorder" else None
                items.append((f"{row.pk}:{n}", deal, ref.external_id if ref else ""))
                if line_id:
                    line_refs.append((f"{row.pk}:{n}", line_id))
        if items:
            ids = port.upsert_deals(items)
            for key, line_id in line_refs:
                external_ref_link(connection, "purchase_line", line_id, ids[key])
            for row in rows:
                if row.pk not in results:
                    results[row.pk] = PushResult(ok=True, external_id=ids[f"{row.pk}:0"])
        return results

    def _deals_for(self, connection: Connection, port: CrmPort, row: Outbox, kind: str,
                   route: dict[str, str]) -> list[tuple[CrmDeal, int | None]]:
        if kind == "purchase":
            purchase = Purchase.objects.filter(pk=row.target_id).select_related("contact").first()
            if purchase is None:
                return []
            per = connection.settings.get("purchase_deal_per", "line")
            deals = cards.purchase_deals(purchase, route, per)
            line_ids: list[int | None] = list(purchase.lines.order_by("pk").values_list("pk", flat=True)) \
                if per != "receipt" else [None]
            contact_id = self._ensure_contact(connection, port, purchase.contact)
            for deal in deals:
                deal.contact_external_id = contact_id
            return list(zip(deals, line_ids, strict=False))
        if kind == "pass":
            record = Pass.objects.filter(pk=row.target_id).select_related("contact", "service_point", "product").first()
            if record is None:
                return []
            deal = cards.pass_deal(record, route)
            deal.contact_external_id = self._ensure_contact(connection, port, record.payer or record.contact)
            return [(deal, None)]
        preorder = Preorder.objects.filter(pk=row.target_id).select_related("contact").first()
        if preorder is None:
            return []
        deal = cards.preorder_deal(preorder, route)
        deal.contact_external_id = self._ensure_contact(connection, port, preorder.contact)
        return [(deal, None)]

    # ------------------------------------------------------------------ inbound
    def events_to_inbound(self, events: list[CrmEvent]) -> list[InboundEvent]:
        return [InboundEvent(event_key=f"{e.entity}:{e.action}:{e.external_id}:{self.version_of(e)}",
                             kind=f"crm.{e.entity}.{e.action}",
                             payload={"entity": e.entity, "action": e.action, "id": e.external_id, "data": e.data})
                for e in events]

    @staticmethod
    def version_of(event: CrmEvent) -> str:
        data = event.data
        return str(data.get("last_modified") or data.get("updated_at") or data.get("status_id") or
                   fingerprint(data)[:16])

    def handle_inbox(self, row: Inbox) -> None:
        connection, payload = row.connection, row.payload
        external_id = str(payload.get("id") or "")
        if not external_id:
            raise ValidationError("CRM event without an id.")
        if row.kind in ("crm.contact.add", "crm.contact.update"):
            self._contact_changed(connection, external_id)
        elif row.kind == "crm.contact.delete":
            ExternalRef.objects.filter(connection=connection, kind="contact", external_id=external_id,
                                       missing_since__isnull=True).update(missing_since=timezone.now())
        else:
            log.info("CRM event %s kept for the features that use it", row.kind)

    def _contact_changed(self, connection: Connection, external_id: str) -> None:
        """Webhooks carry partial data: fetch the contact, then apply unless it is our own echo."""
        data = self.adapter(connection).get_contact(external_id)
        if data is None:
            return
        values = cards.neutral_values(data)
        if external_ref_is_echo(connection, "contact", external_id, values):
            return
        contact_upsert(ContactData(first_name=values["first_name"], last_name=values["last_name"],
                                   phones=data.get("phones") or [], emails=data.get("emails") or []),
                       connection=connection, external_id=external_id, external_values=values)
