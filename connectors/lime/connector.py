"""Lime connector: polled (no webhooks). Pulls products, clients (with children and cards),
receipts, passes and preorders through the Inbox; pushes contact edits and preorders."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings.models import Preorder
from bookings.services import PreorderLineData, preorder_upsert
from connectors.base.connector import Connector
from connectors.lime import mapping
from connectors.lime.client import LimeClient
from hub.models import Card, Connection, ExternalRef, Inbox, Outbox, Product, Purchase
from hub.services.catalog import category_get_or_create, product_upsert, service_point_get_or_create
from hub.services.connections import cursor_get, cursor_set
from hub.services.contacts import card_upsert, child_link, contact_for_ref, contact_upsert
from hub.services.external_refs import (
    external_ref_find,
    external_ref_for_local,
    external_ref_is_echo,
    external_ref_link,
    external_ref_memo,
    fingerprint,
)
from hub.services.inbox import inbox_ingest
from hub.services.sales import LineData, pass_record, purchase_record
from hub.sync.errors import FatalError, RetryableError, SyncError
from hub.sync.types import CheckResult, Progress, PullReport, PushResult

log = logging.getLogger(__name__)

# Pull order matters: products and clients before the receipts and passes that mention them.
ENTITIES = ("Clients", "Checks", "Passes", "PreOrders")
KINDS = {"Clients": "lime.client", "Checks": "lime.check", "Passes": "lime.pass", "PreOrders": "lime.preorder"}


class LimeConnector(Connector):
    system = "lime"
    title = _("Lime")
    subscribes = frozenset({"contact.upsert", "preorder.upsert"})
    can_pull = True

    # ------------------------------------------------------------------ check
    def check_connection(self, connection: Connection) -> CheckResult:
        try:
            installations = LimeClient(connection).select("Installations", {}, 0, 10)
        except SyncError as exc:
            return CheckResult(ok=False, message=f"Лайм не отвечает как ожидалось: {exc}")
        names = ", ".join(str(i.get("name")) for i in installations) or "—"
        return CheckResult(ok=True, message=f"Подключение к Лайм работает. Площадки: {names}.")

    # ------------------------------------------------------------------ pull
    def pull(self, connection: Connection, *, full: bool = False, progress: Progress | None = None) -> PullReport:
        client = LimeClient(connection)
        report = PullReport()
        seen_clients: set[str] | None = set() if full else None
        with external_ref_memo():
            self._pull_products(connection, client, report)
            for entity in ENTITIES:
                self._pull_feed(connection, client, entity, full, report, progress, seen_clients)
        if seen_clients is not None:
            self._mark_missing(connection, seen_clients, report)
        return report

    def _pull_products(self, connection: Connection, client: LimeClient, report: PullReport) -> None:
        tree = client.goods_tree()
        paths = mapping.category_paths(tree.get("categories") or [])
        for good in tree.get("goodTypes") or []:
            row, new = inbox_ingest(connection=connection, kind="lime.good_type",
                                    event_key=f"good:{good.get('id')}:{fingerprint(good)[:16]}",
                                    payload={"data": good, "category_path": paths.get(good.get("categoryId"), [])})
            self._count(report, "products", row, new)

    def _pull_feed(self, connection: Connection, client: LimeClient, entity: str, full: bool, report: PullReport,
                   progress: Progress | None, seen: set[str] | None) -> None:
        """Follow the entity's change cursor: (from, skip) so equal timestamps never loop."""
        field, filter_key = mapping.FEEDS[entity]
        cursor = {"from": "", "skip": 0} if full else json.loads(cursor_get(connection, entity) or '{"from": ""}')
        cursor.setdefault("skip", 0)
        label = entity.lower()
        done = 0
        while True:
            filt = {filter_key: cursor["from"]} if cursor["from"] else {}
            page = client.select(entity, filt, cursor["skip"], mapping.PAGE_SIZE)
            if not page:
                break
            with transaction.atomic():  # one commit per page; each record has its own savepoint
                for record in page:
                    if not isinstance(record, dict) or "id" not in record:
                        record = {"id": None, "raw": record}
                    version = record.get(field) if entity in ("Clients", "PreOrders") else ""
                    row, new = inbox_ingest(connection=connection, kind=KINDS[entity], payload={"data": record},
                                            event_key=f"{label}:{record['id']}:{version}")
                    self._count(report, label, row, new)
                    if seen is not None and entity == "Clients" and record.get("id") is not None:
                        seen.add(str(record["id"]))
            last = str(page[-1].get(field) or "") if isinstance(page[-1], dict) else ""
            if last and last != cursor["from"]:
                cursor = {"from": last, "skip": sum(1 for r in page if isinstance(r, dict) and r.get(field) == last)}
            else:
                cursor = {"from": cursor["from"], "skip": cursor["skip"] + len(page)}
            cursor_set(connection, entity, json.dumps(cursor))
            done += len(page)
            if progress:
                progress(label, done, None)

    @staticmethod
    def _count(report: PullReport, label: str, row: Inbox, new: bool) -> None:
        if not new:
            report.add(f"{label} unchanged")
        else:
            report.add(label if row.status == Inbox.Status.PROCESSED else f"{label} {row.status}")

    def _mark_missing(self, connection: Connection, seen: set[str], report: PullReport) -> None:
        """A full pull that no longer sees a client: mark the mapping, keep our contact."""
        refs = ExternalRef.objects.filter(connection=connection, kind="contact")
        vanished = refs.filter(missing_since__isnull=True).exclude(external_id__in=seen)
        count = vanished.update(missing_since=timezone.now())
        refs.filter(external_id__in=seen, missing_since__isnull=False).update(missing_since=None)
        if count:
            report.add("clients missing in Lime", count)

    # ------------------------------------------------------------------ inbox
    def handle_inbox(self, row: Inbox) -> None:
        handler = {
            "lime.good_type": self._apply_good_type, "lime.client": self._apply_client,
            "lime.check": self._apply_check, "lime.pass": self._apply_pass, "lime.preorder": self._apply_preorder,
        }.get(row.kind)
        if handler is None:
            raise ValidationError(f"Unknown Lime record kind {row.kind!r}.")
        data = row.payload.get("data")
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise ValidationError("Lime record without an id.")
        handler(row.connection, data, row.payload)

    def _apply_good_type(self, connection: Connection, good: dict[str, Any], payload: dict[str, Any]) -> None:
        product_upsert(name=str(good.get("name") or ""), kind=mapping.product_kind(good),
                       base_price=mapping.from_kopecks(good.get("basePrice")),
                       category=category_get_or_create(payload.get("category_path") or []),
                       connection=connection, external_id=str(good["id"]))

    def _apply_client(self, connection: Connection, client: dict[str, Any], payload: dict[str, Any]) -> None:
        external_id = str(client["id"])
        values = mapping.client_values(client)
        category = "child" if mapping.is_child(client) else "adult"
        if external_ref_is_echo(connection, "contact", external_id, values):
            contact = contact_for_ref(connection, external_id, category)
        else:
            contact, _ = contact_upsert(mapping.client_to_contact(client), connection=connection,
                                        external_id=external_id, external_values=values)
        for card in client.get("cards") or []:
            if isinstance(card, dict) and card.get("code"):
                local = card_upsert(str(card["code"]), contact)
                external_ref_link(connection, "card", local.pk, str(card.get("id") or card["code"]))
        for link in client.get("familyLinks") or []:
            if isinstance(link, dict) and link.get("clientId"):
                child = contact_for_ref(connection, link["clientId"], "child")
                if child.pk != contact.pk:
                    child_link(contact, child, mapping.relation_of(link))

    def _card(self, connection: Connection, card_id: Any) -> Card | None:
        if not card_id:
            return None
        ref = external_ref_find(connection, "card", str(card_id))
        return Card.objects.filter(pk=ref.local_id).first() if ref else None

    def _product(self, connection: Connection, good_type_id: Any) -> Product | None:
        if not good_type_id:
            return None
        ref = external_ref_find(connection, "product", str(good_type_id))
        product = Product.objects.filter(pk=ref.local_id).first() if ref else None
        if product is None:  # not in the goods tree (yet): keep the line, name it by id
            product = product_upsert(name=f"Лайм: товар {good_type_id}", connection=connection,
                                     external_id=str(good_type_id))
        return product

    def _apply_check(self, connection: Connection, check: dict[str, Any], payload: dict[str, Any]) -> None:
        entries = check.get("entries")
        if not isinstance(entries, list) or not entries:
            raise ValidationError("Receipt without entries.")
        tz = connection.time_zone
        lines = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ValidationError("Receipt entry is not an object.")
            product = self._product(connection, entry.get("goodTypeId"))
            lines.append(LineData(product=product, quantity=Decimal(str(entry.get("count") or 1)),
                                  price=mapping.from_kopecks(entry.get("price")),
                                  holder=contact_for_ref(connection, entry.get("userId"))))
        card_ids = [e.get("cardId") for e in entries if e.get("cardId")]
        purchase_record(
            purchased_at=mapping.to_utc(check.get("time"), tz), lines=lines,
            contact=contact_for_ref(connection, check.get("clientId")),
            card=self._card(connection, card_ids[0]) if card_ids else None,
            number=str(check["id"]), sales_point=f"Касса {check.get('cashdeskId')}" if check.get("cashdeskId") else "",
            status=Purchase.Status.REFUNDED if check.get("type") == mapping.CHECK_RETURN else Purchase.Status.PAID,
            connection=connection, external_id=str(check["id"]),
        )

    def _apply_pass(self, connection: Connection, record: dict[str, Any], payload: dict[str, Any]) -> None:
        card = self._card(connection, record.get("cardId"))
        holder = contact_for_ref(connection, record.get("userId")) or (card.contact if card else None)
        payer = contact_for_ref(connection, record.get("payerId")) or holder
        pass_record(
            passed_at=mapping.to_utc(record.get("time"), connection.time_zone), contact=holder, payer=payer,
            card=card, product=self._product(connection, record.get("goodTypeId")),
            service_point=service_point_get_or_create(str(record.get("servicePointName") or "")),
            amount=mapping.from_kopecks(record.get("amount")), operator=str(record.get("operatorName") or ""),
            connection=connection, external_id=str(record["id"]),
        )

    def _apply_preorder(self, connection: Connection, record: dict[str, Any], payload: dict[str, Any]) -> None:
        lines = record.get("lines")
        if not isinstance(lines, list) or not lines:
            raise ValidationError("Preorder without lines.")
        contact = contact_for_ref(connection, record.get("clientId"))
        if contact is None:
            raise ValidationError("Preorder without a client.")
        status = mapping.PREORDER_STATUSES.get(str(record.get("status") or "new"), Preorder.Status.NEW)
        preorder_upsert(
            contact=contact, status=status, comment=str(record.get("comment") or ""),
            scheduled_for=mapping.to_utc(record["date"], connection.time_zone) if record.get("date") else None,
            lines=[PreorderLineData(product=self._product(connection, ln.get("goodTypeId")),
                                    quantity=Decimal(str(ln.get("count") or 1)),
                                    price=mapping.from_kopecks(ln.get("price"))) for ln in lines],
            connection=connection, external_id=str(record["id"]),
        )

    # ------------------------------------------------------------------ push
    def accepts(self, connection: Connection, action: str, target_kind: str, target_id: int | None,
                origin: Connection | None) -> bool:
        """Contacts Lime already knows always; new ones only when the operator turned on
        "create contacts from CRM / site in Lime"."""
        if action != "contact.upsert" or target_id is None:
            return True
        if external_ref_for_local(connection, "contact", target_id):
            return True
        return bool(connection.settings.get("create_contacts_in_lime"))

    def outbound_fingerprint(self, action: str, payload: dict[str, Any]) -> str:
        if action == "contact.upsert":
            return fingerprint(mapping.client_values(mapping.contact_to_client(payload)))
        return fingerprint(payload)

    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        client = LimeClient(connection)
        results: dict[int, PushResult] = {}
        for row in rows:  # Lime has no batch write: one call (or two) per row
            try:
                if row.action == "contact.upsert":
                    results[row.pk] = self._push_contact(connection, client, row)
                elif row.action == "preorder.upsert":
                    results[row.pk] = self._push_preorder(connection, client, row)
                else:
                    results[row.pk] = PushResult(ok=False, retryable=False, error=f"Lime does not take {row.action}")
            except SyncError as exc:
                results[row.pk] = PushResult(ok=False, error=str(exc), retryable=exc.retryable,
                                             retry_after=exc.retry_after)
        return results

    def _push_contact(self, connection: Connection, client: LimeClient, row: Outbox) -> PushResult:
        body = mapping.contact_to_client(row.payload)
        ref = external_ref_for_local(connection, "contact", row.target_id)
        if ref is None:
            lookup = {"email": body["email"], "installationId": connection.settings.get("installation_id", 1)}
            found = client.call("/api/ClientManagement/GetClientInfoByEmail", lookup) if body["email"] else []
            if isinstance(found, list) and found and isinstance(found[0], dict):
                client_id = str(found[0].get("userData", {}).get("id"))
            else:
                created = client.call("/api/ClientManagement/Insert", {
                    "email": body["email"], "phoneNumber": body["phoneNumber"], "displayName": body["displayName"]})
                if not isinstance(created, int | str) or not str(created).isdigit():
                    raise FatalError(f"Lime Insert answered {created!r} instead of a client id")
                client_id = str(created)
        else:
            client_id = ref.external_id
        answer = client.call("/api/ClientManagement/Update", {"id": int(client_id), **body})
        if not isinstance(answer, dict) or "userData" not in answer:
            raise FatalError(f"Lime Update answered {str(answer)[:200]}")
        return PushResult(ok=True, external_id=client_id,
                          fingerprint=fingerprint(mapping.client_values(answer["userData"])))

    def _push_preorder(self, connection: Connection, client: LimeClient, row: Outbox) -> PushResult:
        snapshot = row.payload
        ref = external_ref_for_local(connection, "preorder", row.target_id)
        if snapshot.get("status") == Preorder.Status.CANCELLED:
            if ref:
                client.call("/api/PreOrders/Cancel", {"id": int(ref.external_id)})
            return PushResult(ok=True, external_id=ref.external_id if ref else "")
        contact_ref = external_ref_for_local(connection, "contact", snapshot["contact_id"])
        if contact_ref is None:
            raise RetryableError("the preorder's contact is not in Lime yet (it is created there first)")
        goods = {}
        for line in snapshot.get("lines", []):
            product_ref = external_ref_for_local(connection, "product", line["product_id"])
            if product_ref is None:
                raise FatalError(f"product #{line['product_id']} is not a Lime good type; map it first")
            goods[line["product_id"]] = product_ref.external_id
        body = mapping.preorder_to_lime(snapshot, contact_ref.external_id, goods, connection.time_zone)
        if ref:
            client.call("/api/PreOrders/Update", {"id": int(ref.external_id), **body})
            return PushResult(ok=True, external_id=ref.external_id)
        created = client.call("/api/PreOrders/Insert", body)
        if not str(created).isdigit():
            raise FatalError(f"Lime PreOrders/Insert answered {created!r} instead of an id")
        return PushResult(ok=True, external_id=str(created))
