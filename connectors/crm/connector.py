"""The hub side of every CRM, in terms of the CRM port: contacts with their card, deals
per event kind into the pipeline/stage the operator routed, CRM changes back into the hub."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils import timezone

from bookings.models import Booking, Preorder
from connectors.base.connector import Connector
from connectors.crm import cards, recovery
from connectors.crm.port import CrmContact, CrmDeal, CrmEvent, CrmPort, CrmProduct, CrmTask
from connectors.crm.setup import TRIGGERS
from events.models import EventDate, EventSetup, EventTemplate, TicketSale
from events.services.publishing import DEAL_FIELDS as EVENT_DEAL_FIELDS
from events.services.sales import SALE as TICKET_SALE
from hub.models import ClientRequest, Connection, Contact, CrmDealState, ExternalRef, Inbox, Outbox, Pass, Purchase
from hub.services.contacts import ContactData, contact_resolve, contact_upsert
from hub.services.deals import CrmDealView, crm_deal_seen, crm_deals_created
from hub.services.dialogs import NOTE as DIALOG_NOTE
from hub.services.dialogs import dialog_note_text
from hub.services.external_refs import (
    external_ref_is_echo,
    external_ref_link,
    external_refs_link_many,
    fingerprint,
)
from hub.sync.errors import FatalError, RateLimited, RetryableError, SyncError
from hub.sync.types import CheckResult, InboundEvent, PushResult

log = logging.getLogger(__name__)

DEAL_ACTIONS = {"purchase.created": "purchase", "pass.created": "pass", "preorder.upsert": "preorder",
                "booking.upsert": "booking", TICKET_SALE: "ticket_sale"}
DEAL_REF_KINDS = ("purchase", "purchase_line", "pass", "preorder", "booking", "ticket_sale")
DEAL_FETCHED = ("crm.deal.add", "crm.deal.update", "crm.deal.stage")
REQUEST = "request.created"


@contextlib.contextmanager
def _lookup_retryable() -> Iterator[None]:
    """A lookup for an unanswered create that fails, for whatever reason, is retried: the row
    must neither go dead nor be created blind (it may exist there)."""
    try:
        yield
    except SyncError as exc:
        if exc.retryable:
            raise
        raise RetryableError(f"could not check whether an earlier create already made it: {exc}") from exc


class CrmConnector(Connector):
    subscribes = frozenset({"contact.upsert", "deal.note", DIALOG_NOTE, REQUEST, EVENT_DEAL_FIELDS, *DEAL_ACTIONS})
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
        if action in ("contact.upsert", DIALOG_NOTE) and target_id is not None:
            return not Contact.objects.filter(pk=target_id, category=Contact.Category.CHILD).exists()
        if action == REQUEST:  # a lead becomes a deal only where routed; "call me back" is a to-do
            kind = ClientRequest.objects.filter(pk=target_id).values_list("kind", flat=True).first()
            return kind == ClientRequest.Kind.CALLBACK or self.route(connection, "request") is not None
        if action == "deal.note":  # an answer into one CRM's deal: only that CRM
            return CrmDealState.objects.filter(pk=target_id, connection=connection).exists()
        if action == EVENT_DEAL_FIELDS:  # a site id / sync state into the deal it came from
            model = EventTemplate if target_kind == "event_template" else EventDate
            return model.objects.filter(pk=target_id, setup__crm=connection).exists()
        if action == TICKET_SALE and not self._sells_for(connection, target_id):
            return False
        if action == "purchase.created" and ExternalRef.objects.filter(
                kind="purchase", local_id=target_id, connection__system="site").exists():
            return False  # a site's ticket order: its deal is the ticket sale's, linked to the event
        kind = DEAL_ACTIONS.get(action)
        return kind is None or self.route(connection, kind) is not None

    @staticmethod
    def _sells_for(connection: Connection, sale_id: int | None) -> bool:
        """A ticket sale goes to the CRM of its event's deal; one whose event is not known yet,
        to every CRM whose event set-up uses that site (it is linked when the event appears)."""
        sale = TicketSale.objects.filter(pk=sale_id).select_related("event__setup").first()
        if sale is None:
            return False
        if sale.event is not None:
            return sale.event.setup.crm_id == connection.pk
        return EventSetup.objects.filter(crm=connection, site_id=sale.site_id, enabled=True).exists()

    # outbound_fingerprint stays the base one (the whole snapshot): the card carries more
    # than names and phones (last pass, transactions…), so every change is sent.

    # ------------------------------------------------------------------ push
    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        port = self.adapter(connection)
        results: dict[int, PushResult] = {}
        contact_rows = [r for r in rows if r.action == "contact.upsert"]
        deal_rows = [r for r in rows if r.action in DEAL_ACTIONS]
        note_rows = [r for r in rows if r.action == "deal.note"]
        dialog_rows = [r for r in rows if r.action == DIALOG_NOTE]
        request_rows = [r for r in rows if r.action == REQUEST]
        field_rows = [r for r in rows if r.action == EVENT_DEAL_FIELDS]
        for row in rows:
            if row.action not in self.subscribes:
                results[row.pk] = PushResult(ok=False, retryable=False, error=f"CRM does not take {row.action}")
        if contact_rows:
            results.update(self._push_contacts(connection, port, contact_rows))
        if deal_rows:
            results.update(self._push_deals(connection, port, deal_rows))
        if note_rows:
            results.update(self._push_notes(connection, port, note_rows))
        if dialog_rows:
            results.update(self._push_dialogs(connection, port, dialog_rows))
        for row in request_rows:
            results[row.pk] = self._push_request(connection, port, row)
        if field_rows:
            results.update(self._push_deal_fields(port, field_rows))
        return results

    def _push_deal_fields(self, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        """Values the hub keeps in a manager's deal (the site's id, the sync state): only those
        fields are written, the rest of the deal stays the manager's."""
        try:
            written = port.set_deal_fields([(str(row.pk), str(row.payload["deal_id"]), dict(row.payload["fields"]))
                                            for row in rows])
        except SyncError as exc:
            return {row.pk: self._failure(exc) for row in rows}
        return {row.pk: PushResult(ok=True) if str(row.pk) in written.ids
                else self._failure(written.errors.get(str(row.pk)) or FatalError("no answer for the deal"))
                for row in rows}

    def _push_dialogs(self, connection: Connection, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        """Chat lines to the contact's timeline: every row of one contact in this batch makes a
        single note."""
        contacts = Contact.objects.in_bulk([row.target_id for row in rows])
        by_contact: dict[int, tuple[Contact, list[Outbox]]] = {}
        results: dict[int, PushResult] = {}
        for row in rows:
            contact = contacts.get(row.target_id)
            if contact is None:
                results[row.pk] = PushResult(ok=False, retryable=False, error="contact no longer exists")
                continue
            contact = contact_resolve(contact)
            by_contact.setdefault(contact.pk, (contact, []))[1].append(row)
        for contact, contact_rows in by_contact.values():
            ids = sorted({int(i) for row in contact_rows for i in row.payload.get("messages") or []})
            try:  # one call per contact: a failure (a card deleted in the CRM) holds back only its own lines
                external_id = self._ensure_contact(connection, port, contact)
                port.add_notes([("contact", external_id, dialog_note_text(ids, ZoneInfo(connection.time_zone)))])
            except SyncError as exc:
                results.update({row.pk: self._failure(exc) for row in contact_rows})
                continue
            results.update({row.pk: PushResult(ok=True) for row in contact_rows})
        return results

    def _push_request(self, connection: Connection, port: CrmPort, row: Outbox) -> PushResult:
        """A lead → a deal in the routed pipeline with the client's words as its note; "contact a
        manager" → a to-do on the client's card. Sent again, it finds what it made the first time."""
        request = ClientRequest.objects.filter(pk=row.target_id).select_related("contact").first()
        if request is None:
            return PushResult(ok=False, retryable=False, error="the request no longer exists")
        contact = contact_resolve(request.contact) if request.contact else None
        try:
            contact_id = self._ensure_contact(connection, port, contact)
            if request.kind == ClientRequest.Kind.CALLBACK:
                return self._push_callback(connection, port, request, contact_id)
            route = self.route(connection, "request")
            if route is None:
                return PushResult(ok=False, retryable=False, error="no pipeline is routed for requests")
            known = self._live_refs(connection, "client_request", [request.pk]).get(request.pk, "")
            deal = CrmDeal(title=request.title or f"Заявка #{request.pk} ({request.source})",
                           contact_external_id=contact_id, origin=f"client_request:{request.pk}", **route)
            identity = ("client_request", request.pk)
            sent = {} if known else recovery.creates_unconfirmed(connection, [identity])
            found = self._deals_found(connection, port, [("r", deal, identity)] if sent else [], sent)
            if not known and not found:
                recovery.creates_sending(connection, [identity])
            written = port.upsert_deals([("r", deal, known or found.get(identity, ""))])
            if "r" not in written.ids:
                raise written.errors.get("r") or FatalError("the CRM did not create the request's deal")
            external_ref_link(connection, "client_request", request.pk, written.ids["r"])
            if not known:
                recovery.creates_confirmed(connection, [identity])
                crm_deals_created(connection, [CrmDealView(id=written.ids["r"], pipeline_id=deal.pipeline_id,
                                                           stage_id=deal.stage_id, title=deal.title,
                                                           contact_id=contact_id)])
            noted = self._live_refs(connection, "client_request_note", [request.pk])
            if request.text and not noted:  # a retry after a failed note adds it, not a second deal
                port.add_notes([("deal", written.ids["r"], request.text)])
                external_ref_link(connection, "client_request_note", request.pk, written.ids["r"])
        except SyncError as exc:
            return self._failure(exc)
        return PushResult(ok=True, external_id=written.ids["r"])

    def _push_callback(self, connection: Connection, port: CrmPort, request: ClientRequest,
                       contact_id: str) -> PushResult:
        known = self._live_refs(connection, "client_request_task", [request.pk]).get(request.pk)
        if known:
            return PushResult(ok=True)
        if not contact_id:
            return PushResult(ok=False, retryable=False, error="a call-back request without a client")
        minutes = int(connection.settings.get("callback_due_minutes") or 30)
        task = CrmTask(entity="contact", external_id=contact_id,
                       text=f"{request.title or 'Клиент просит связаться'}\n{request.text}".strip(),
                       deadline=timezone.now() + dt.timedelta(minutes=minutes))
        written = port.add_tasks([("t", task)])
        if "t" not in written.ids:
            raise written.errors.get("t") or FatalError("the CRM did not create the to-do")
        external_ref_link(connection, "client_request_task", request.pk, written.ids["t"])
        return PushResult(ok=True)  # the to-do's id is not the request's deal: linked above under its own kind

    def _push_notes(self, connection: Connection, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        deals = dict(CrmDealState.objects.filter(pk__in=[r.target_id for r in rows], connection=connection)
                     .values_list("pk", "external_id"))
        results: dict[int, PushResult] = {}
        for row in rows:
            if row.target_id not in deals:
                results[row.pk] = PushResult(ok=False, retryable=False, error="the deal is not known to the hub")
                continue
            try:
                port.add_notes([("deal", deals[row.target_id], str(row.payload.get("text") or ""))])
            except SyncError as exc:
                results[row.pk] = self._failure(exc)
            else:
                results[row.pk] = PushResult(ok=True, external_id=deals[row.target_id])
        return results

    @staticmethod
    def _live_refs(connection: Connection, kind: str, local_ids: list[int]) -> dict[int, str]:
        """Their ids for our rows; a ref marked missing (deleted in the CRM) means "create again"."""
        return dict(ExternalRef.objects.filter(connection=connection, kind=kind, local_id__in=local_ids,
                                               missing_since__isnull=True)
                    .order_by("updated_at").values_list("local_id", "external_id"))

    @staticmethod
    def _failure(error: Exception) -> PushResult:
        if isinstance(error, SyncError):
            return PushResult(ok=False, error=str(error), retryable=error.retryable, retry_after=error.retry_after,
                              rate_limited=isinstance(error, RateLimited))
        return PushResult(ok=False, error=f"{type(error).__name__}: {error}")

    def _take_their_changes(self, connection: Connection, port: CrmPort, local_ids: list[int]) -> int:
        """Before overwriting CRM contacts, read them: one a manager changed since our last
        sync with it (its fingerprint is not the one we stored) is applied to the hub first,
        so the update we then send carries their edit instead of erasing it."""
        known = dict(ExternalRef.objects.filter(connection=connection, kind="contact", local_id__in=local_ids,
                                                missing_since__isnull=True).exclude(fingerprint="")
                     .values_list("external_id", "fingerprint"))
        if not known:
            return 0
        taken = 0
        for external_id, data in port.get_contacts(list(known)).items():
            if data is not None and fingerprint(cards.neutral_values(data)) != known[external_id]:
                log.info("CRM contact %s changed since our last sync: taken into the hub before our update",
                         external_id)
                self._contact_changed(connection, external_id, data)
                taken += 1
        return taken

    def _push_contacts(self, connection: Connection, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        self._take_their_changes(connection, port, [row.target_id for row in rows])
        contacts = cards.contacts_for_cards([row.target_id for row in rows])
        refs = self._live_refs(connection, "contact", list(contacts))
        items: list[tuple[str, CrmContact, str]] = []
        results: dict[int, PushResult] = {}
        for row in rows:
            contact = contacts.get(row.target_id)
            if contact is None:
                results[row.pk] = PushResult(ok=False, retryable=False, error="contact no longer exists (merged?)")
                continue
            items.append((str(row.pk), cards.contact_card(contact, connection.time_zone), refs.get(contact.pk, "")))
        if not items:
            return results
        by_row = {row.pk: row for row in rows}
        new = {by_row[int(key)].target_id: card for key, card, ext in items if not ext}
        sent = recovery.creates_unconfirmed(connection, [("contact", pk) for pk in new])
        try:
            found = self._contacts_found(connection, port, new, sent)
        except SyncError as exc:  # not known whether they exist: a create now could make a second one
            unsure = {pk for _, pk in sent}
            results.update({int(key): self._failure(exc) for key, _, _ in items
                            if by_row[int(key)].target_id in unsure})
            items = [item for item in items if by_row[int(item[0])].target_id not in unsure]
            found = {}
        items = [(key, card, ext or found.get(by_row[int(key)].target_id, "")) for key, card, ext in items]
        recovery.creates_sending(connection, [("contact", by_row[int(key)].target_id)
                                              for key, _, ext in items if not ext])
        written = port.upsert_contacts(items)
        links = []
        for key, card, _ in items:
            if key in written.ids and key not in written.errors:
                digest = fingerprint(cards.card_values(card))
                links.append(("contact", by_row[int(key)].target_id, written.ids[key], digest))
                results[int(key)] = PushResult(ok=True, external_id=written.ids[key], fingerprint=digest)
            else:
                results[int(key)] = self._failure(written.errors.get(key) or FatalError("no answer"))
        # Linked now, not after the batch: deals in this same batch must find them.
        external_refs_link_many(connection, links)
        recovery.creates_confirmed(connection, [("contact", local) for _, local, _, _ in links if local in new])
        return results

    @staticmethod
    def _contacts_found(connection: Connection, port: CrmPort, new: dict[int, CrmContact],
                        sent: dict[recovery.Key, dt.datetime]) -> dict[int, str]:
        """Their ids of contacts about to be created that an earlier, unanswered create (``sent``:
        when) already made."""
        if not sent:
            return {}
        with _lookup_retryable():
            found = port.find_contacts([(str(pk), new[pk], since) for (_, pk), since in sent.items() if pk in new])
        claimed = recovery.candidates_claim(connection, ["contact"],
                                            {("contact", int(key)): ids for key, ids in found.items()})
        if claimed:
            log.info("%s CRM contact(s) made by an unanswered earlier create found and linked", len(claimed))
        return {pk: ext for (_, pk), ext in claimed.items()}

    def _ensure_contact(self, connection: Connection, port: CrmPort, contact: Contact | None) -> str:
        """A deal needs its contact in the CRM first; created (and remembered) on the spot."""
        if contact is None:
            return ""
        known = self._live_refs(connection, "contact", [contact.pk]).get(contact.pk)
        if known:
            return known
        card = cards.contact_card(cards.contacts_for_cards([contact.pk])[contact.pk], connection.time_zone)
        sent = recovery.creates_unconfirmed(connection, [("contact", contact.pk)])
        found = self._contacts_found(connection, port, {contact.pk: card}, sent).get(contact.pk, "")
        if not found:
            recovery.creates_sending(connection, [("contact", contact.pk)])
        written = port.upsert_contacts([("c", card, found)])
        if "c" not in written.ids:
            raise written.errors.get("c") or FatalError("the CRM did not create the deal's contact")
        external_ref_link(connection, "contact", contact.pk, written.ids["c"],
                          digest=fingerprint(cards.card_values(card)))
        recovery.creates_confirmed(connection, [("contact", contact.pk)])
        return written.ids["c"]

    def _push_deals(self, connection: Connection, port: CrmPort, rows: list[Outbox]) -> dict[int, PushResult]:
        """Each deal is known by what it stands for (a ticket line, a receipt, a pass, a
        preorder): sent again, it updates the same deal instead of making a second one."""
        items: list[tuple[str, CrmDeal, str]] = []
        identity: dict[str, tuple[str, int]] = {}
        keys_of: dict[int, list[str]] = {}
        results: dict[int, PushResult] = {}
        for row in rows:
            kind = DEAL_ACTIONS[row.action]
            route = self.route(connection, kind)
            try:
                built = self._deals_for(connection, port, row, kind, route) if route else []
            except SyncError as exc:  # the deal's contact could not be created
                results[row.pk] = self._failure(exc)
                continue
            if not built:
                results[row.pk] = PushResult(ok=False, retryable=False, error=f"nothing to send for {row.action}")
                continue
            for n, (deal, ref_kind, local_id) in enumerate(built):
                key = f"{row.pk}:{n}"
                deal.origin = f"{ref_kind}:{local_id}"
                items.append((key, deal, ""))
                identity[key] = (ref_kind, local_id)
                keys_of.setdefault(row.pk, []).append(key)
        if not items:
            return results
        self._attach_products(connection, port, [deal for _, deal, _ in items])
        known: dict[tuple[str, int], str] = {}
        for ref_kind in {kind for kind, _ in identity.values()}:  # one query per kind, not per deal
            ids = [local for kind, local in identity.values() if kind == ref_kind]
            known.update({(ref_kind, local): ext for local, ext in self._live_refs(connection, ref_kind, ids).items()})
        fresh = {identity[key] for key, _, _ in items if identity[key] not in known}  # to create (or find)
        sent = recovery.creates_unconfirmed(connection, fresh)
        try:
            found = self._deals_found(connection, port, [(key, deal, identity[key]) for key, deal, _ in items
                                                         if identity[key] in sent], sent)
        except SyncError as exc:  # not known whether they exist: a create now could make a second one
            unsure = {row_pk for row_pk, keys in keys_of.items() if any(identity[k] in sent for k in keys)}
            results.update({row_pk: self._failure(exc) for row_pk in unsure})
            keys_of = {row_pk: keys for row_pk, keys in keys_of.items() if row_pk not in unsure}
            items = [item for item in items if int(item[0].split(":")[0]) not in unsure]
            found = {}
        known.update(found)
        items = [(key, deal, known.get(identity[key], "")) for key, deal, _ in items]
        recovery.creates_sending(connection, [identity[key] for key, _, ext in items if not ext])
        written = port.upsert_deals(items)
        external_refs_link_many(connection, [(identity[k][0], identity[k][1], ext, "")
                                             for k, ext in written.ids.items() if k in identity])
        crm_deals_created(connection, [CrmDealView(id=written.ids[key], pipeline_id=deal.pipeline_id,
                                                   stage_id=deal.stage_id, title=deal.title, amount=str(deal.amount),
                                                   contact_id=deal.contact_external_id)
                                       for key, deal, _ in items if identity[key] in fresh and key in written.ids])
        recovery.creates_confirmed(connection, [identity[k] for k in written.ids if identity.get(k) in fresh])
        for row_pk, keys in keys_of.items():
            failed = [written.errors[k] for k in keys if k in written.errors or k not in written.ids]
            if failed or any(k not in written.ids for k in keys):
                results[row_pk] = self._failure(failed[0] if failed else FatalError("no answer for a deal"))
            else:
                results[row_pk] = PushResult(ok=True, external_id=written.ids[keys[0]])
        return results

    @staticmethod
    def _deals_found(connection: Connection, port: CrmPort, new: list[tuple[str, CrmDeal, recovery.Key]],
                     sent: dict[recovery.Key, dt.datetime]) -> dict[recovery.Key, str]:
        """Deals about to be created (key, deal, what it stands for) that an earlier, unanswered
        create (``sent``: when) already made → their ids."""
        if not new:
            return {}
        with _lookup_retryable():
            found = port.find_deals([(key, deal, sent[identity]) for key, deal, identity in new])
        wanted = {key: identity for key, _, identity in new}
        claimed = recovery.candidates_claim(connection, (*DEAL_REF_KINDS, "client_request"),
                                            {wanted[key]: ids for key, ids in found.items() if key in wanted})
        if claimed:
            log.info("%s CRM deal(s) made by an unanswered earlier create found and linked", len(claimed))
        return claimed

    def _attach_products(self, connection: Connection, port: CrmPort, deals: list[CrmDeal]) -> None:
        """Each hub product becomes one CRM catalog product, made once and reused, so the CRM
        can count which tickets sell. A product the CRM would not create stays a named row."""
        rows = [row for deal in deals for row in deal.products if row.local_product_id]
        wanted = {row.local_product_id for row in rows}
        if not wanted:
            return
        known = self._live_refs(connection, "product", list(wanted))
        missing = {row.local_product_id: row for row in rows if row.local_product_id not in known}
        if missing:
            written = port.create_products([(str(pk), CrmProduct(name=row.name, price=row.price))
                                            for pk, row in missing.items()])
            for key, error in written.errors.items():
                log.warning("CRM product for hub product %s not created: %s", key, error)
            links = [("product", int(key), ext, "") for key, ext in written.ids.items() if key not in written.errors]
            external_refs_link_many(connection, links)
            known.update({local: str(ext) for _, local, ext, _ in links})
        for row in rows:
            row.external_product_id = known.get(row.local_product_id, "")

    def _deals_for(self, connection: Connection, port: CrmPort, row: Outbox, kind: str,
                   route: dict[str, str]) -> list[tuple[CrmDeal, str, int]]:
        if kind == "purchase":
            purchase = Purchase.objects.filter(pk=row.target_id).select_related("contact").first()
            if purchase is None:
                return []
            per = connection.settings.get("purchase_deal_per", "line")
            deals = cards.purchase_deals(purchase, route, per)
            contact_id = self._ensure_contact(connection, port, purchase.contact)
            for deal in deals:
                deal.contact_external_id = contact_id
            if per == "receipt":
                return [(deals[0], "purchase", purchase.pk)]
            line_ids = list(purchase.lines.order_by("pk").values_list("pk", flat=True))
            return [(deal, "purchase_line", line_id) for deal, line_id in zip(deals, line_ids, strict=True)]
        if kind == "pass":
            record = Pass.objects.filter(pk=row.target_id).select_related("contact", "service_point", "product").first()
            if record is None:
                return []
            deal = cards.pass_deal(record, route)
            deal.contact_external_id = self._ensure_contact(connection, port, record.payer or record.contact)
            return [(deal, "pass", record.pk)]
        if kind == "ticket_sale":
            sale = TicketSale.objects.filter(pk=row.target_id).select_related(
                "contact", "event__setup", "purchase").first()
            if sale is None:
                return []
            deal = cards.ticket_sale_deal(sale, route)
            deal.contact_external_id = self._ensure_contact(connection, port, sale.contact)
            return [(deal, "ticket_sale", sale.pk)]
        if kind == "booking":
            booking = Booking.objects.filter(pk=row.target_id).select_related("contact").first()
            if booking is None:
                return []
            deal = cards.booking_deal(booking, route)
            deal.contact_external_id = self._ensure_contact(connection, port, booking.contact)
            return [(deal, "booking", booking.pk)]
        preorder = Preorder.objects.filter(pk=row.target_id).select_related("contact").first()
        if preorder is None:
            return []
        deal = cards.preorder_deal(preorder, route)
        deal.contact_external_id = self._ensure_contact(connection, port, preorder.contact)
        return [(deal, "preorder", preorder.pk)]

    # ------------------------------------------------------------------ inbound
    def events_to_inbound(self, events: list[CrmEvent]) -> list[InboundEvent]:
        return [InboundEvent(event_key=f"{e.entity}:{e.action}:{e.external_id}:{self.version_of(e)}",
                             kind=f"crm.{e.entity}.{e.action}",
                             payload={"entity": e.entity, "action": e.action, "id": e.external_id, "data": e.data})
                for e in events]

    @staticmethod
    def version_of(event: CrmEvent) -> str:
        """Every delivery is an event of its own. A body does not tell a repeat from a new change:
        a minimal stage hook (id, stage, old stage) of the second move A → B, or an edit back to A
        within the second of the first, is byte for byte the earlier body — dropped as a repeat,
        that change would never reach the hub. Each is processed by reading what the CRM holds
        now, so a true redelivery costs one read and changes nothing."""
        return f"{fingerprint(event.data)[:16]}:{uuid.uuid4().hex[:16]}"

    def inbox_lock_name(self, row: Inbox) -> str:
        """Events of one CRM contact or deal are read and applied one at a time."""
        entity, external_id = row.payload.get("entity"), row.payload.get("id")
        if row.kind == "crm.other" or not entity or not external_id:
            return ""
        return f"crm:{row.connection_id}:{entity}:{external_id}"

    def unrouted(self, raw: dict[str, str]) -> list[InboundEvent]:
        """Authenticated events we do not act on (notes, companies, leads…) are kept and
        answered 200: a CRM switches off a hook that keeps failing."""
        return [InboundEvent(event_key=f"other:{fingerprint(raw)[:32]}", kind="crm.other", payload={"form": raw})]

    def fetch_for_inbox(self, row: Inbox) -> Any:
        external_id = str(row.payload.get("id") or "")
        if not external_id:
            return None
        if row.kind in ("crm.contact.add", "crm.contact.update"):
            return self.adapter(row.connection).get_contact(external_id)
        if row.kind in DEAL_FETCHED and not self._skip_new_deal(row):
            return self.adapter(row.connection).get_deal(external_id)
        return None

    @staticmethod
    def _skip_new_deal(row: Inbox) -> bool:
        """A new deal is read only when a deal-trigger stage is configured (a deal can be
        created right in it) and it is not one we created ourselves: a bulk sync of passes
        announces thousands of our own deals back, and each read costs rate limit."""
        if row.kind != "crm.deal.add":
            return False
        listening = (any(row.connection.settings.get(f"{name}_request") for name in TRIGGERS)
                     or EventSetup.objects.filter(crm=row.connection, enabled=True).exists())
        if not listening:
            return True  # nobody listens for new deals: their first move is read instead
        return ExternalRef.objects.filter(connection=row.connection, kind__in=DEAL_REF_KINDS,
                                          external_id=str(row.payload["id"])).exists()

    def handle_inbox(self, row: Inbox, fetched: Any = None) -> None:
        connection, payload = row.connection, row.payload
        external_id = str(payload.get("id") or "")
        if row.kind == "crm.other":
            return
        if not external_id:
            raise ValidationError("CRM event without an id.")
        if row.kind in ("crm.contact.add", "crm.contact.update"):
            if fetched is not None:
                self._contact_changed(connection, external_id, fetched)
        elif row.kind == "crm.contact.delete":
            ExternalRef.objects.filter(connection=connection, kind="contact", external_id=external_id,
                                       missing_since__isnull=True).update(missing_since=timezone.now())
        elif row.kind in DEAL_FETCHED:
            if fetched is not None:
                crm_deal_seen(connection, CrmDealView.from_neutral(fetched))
        elif row.kind == "crm.deal.delete":
            ExternalRef.objects.filter(connection=connection, kind__in=DEAL_REF_KINDS, external_id=external_id,
                                       missing_since__isnull=True).update(missing_since=timezone.now())

    def _contact_changed(self, connection: Connection, external_id: str, data: dict[str, Any]) -> None:
        """Apply what the CRM holds now, unless it is only our own write coming back."""
        values = cards.neutral_values(data)
        if external_ref_is_echo(connection, "contact", external_id, values):
            return
        contact_upsert(ContactData(first_name=values["first_name"], last_name=values["last_name"],
                                   phones=data.get("phones") or [], emails=data.get("emails") or []),
                       connection=connection, external_id=external_id, external_values=values)
