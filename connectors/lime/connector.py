"""Lime connector: polled (no webhooks). Pulls products, clients (with children and cards),
receipts, passes and preorders through the Inbox; pushes contact edits and preorders."""

from __future__ import annotations

import datetime as dt
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
from connectors.base.ratelimit import RateLimiter
from connectors.lime import mapping
from connectors.lime.client import LimeClient, limiter_for
from hub.models import Card, Connection, Contact, ContactIdentity, ExternalRef, Inbox, Outbox, Product, Purchase
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
from hub.services.normalize import phone_key
from hub.services.sales import LineData, pass_record, purchase_record
from hub.sync.errors import FatalError, RateLimited, RetryableError, SyncError
from hub.sync.types import CheckResult, Progress, PullReport, PushResult

log = logging.getLogger(__name__)

# Pull order matters: products and clients before the receipts and passes that mention them.
ENTITIES = ("Clients", "Checks", "Passes", "PreOrders")
FULL_READ = "full read"  # the cursor holding when an unfinished full pull began ("" when none)
KINDS = {"Clients": "lime.client", "Checks": "lime.check", "Passes": "lime.pass", "PreOrders": "lime.preorder"}


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class LimeConnector(Connector):
    system = "lime"
    title = _("Lime")
    subscribes = frozenset({"contact.upsert", "preorder.upsert"})
    can_pull = True

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

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
        started = self._full_pass(connection, full)
        errors: list[SyncError] = []
        with external_ref_memo():
            for step in ["products", *ENTITIES]:
                try:  # one feed failing does not hold the others back; cursors keep their place
                    if step == "products":
                        self._pull_products(connection, client, report)
                    else:
                        self._pull_feed(connection, client, step, started is not None, report, progress)
                except SyncError as exc:
                    errors.append(exc)
                    report.add(f"{step.lower()} failed")
        if errors:
            raise type(errors[0])("; ".join(str(e) for e in errors), retry_after=errors[0].retry_after)
        if started is not None:
            self._mark_missing(connection, started, report)
            cursor_set(connection, FULL_READ, "")
        return report

    @staticmethod
    def _full_pass(connection: Connection, full: bool) -> dt.datetime | None:
        """When the full pass under way began, or None. A full pull is one pass over every feed
        from its start; when a page fails, the pulls after it (full or not) carry the same pass on
        from the cursors until it goes through, and only then is what it did not see marked
        missing. Restarting instead would never end on a network that fails some page of
        thousands, and a client deleted in Lime would never be noticed."""
        begun = cursor_get(connection, FULL_READ)
        if begun:
            return dt.datetime.fromisoformat(begun)
        if not full:
            return None
        now = timezone.now()
        for entity in ENTITIES:
            cursor_set(connection, entity, "")
        cursor_set(connection, FULL_READ, now.isoformat())
        return now

    def _pull_products(self, connection: Connection, client: LimeClient, report: PullReport) -> None:
        tree = client.goods_tree()
        paths = mapping.category_paths(tree.get("categories") or [])
        goods = tree.get("goodTypes")
        for good in goods if isinstance(goods, list) else []:
            good = good if isinstance(good, dict) else {"id": None, "raw": good}
            category = good.get("categoryId")
            path = paths.get(category, []) if isinstance(category, int | str) else []
            row, new = inbox_ingest(connection=connection, kind="lime.good_type",
                                    event_key=f"good:{good.get('id')}:{fingerprint(good)[:16]}",
                                    payload={"data": good, "category_path": path})
            self._count(report, "products", row, new)

    def _pull_feed(self, connection: Connection, client: LimeClient, entity: str, full: bool, report: PullReport,
                   progress: Progress | None) -> None:
        """Keyset paging: resume strictly after the last (field, id) seen; edits come round again.
        ``full``: part of a full pass (the clients seen are marked as still there)."""
        field, filter_key = mapping.FEEDS[entity]
        cursor = json.loads(cursor_get(connection, entity) or "{}")  # a full pass cleared it when it began
        label = entity.lower()
        done = 0
        while True:
            filt: dict[str, Any] = {}
            if cursor.get("id") is not None:
                filt["afterId"] = cursor["id"]
                if filter_key:
                    filt[filter_key] = cursor["from"]
            page = client.select(entity, filt, 0, mapping.PAGE_SIZE)
            records = [r for r in page if isinstance(r, dict) and r.get("id") is not None]
            with transaction.atomic():  # one commit per page; each record has its own savepoint
                for record in page:
                    self._ingest(connection, entity, record, report)
                if entity == "Clients" and full:  # seen in this full pull: not missing
                    ExternalRef.objects.filter(connection=connection, kind="contact",
                                               external_id__in=[str(r["id"]) for r in records]
                                               ).update(missing_since=None, updated_at=timezone.now())
            if not records:
                break
            last = records[-1]
            position = (str(last.get(field) or ""), _int(last["id"]))
            if cursor.get("id") is not None and position <= (str(cursor.get("from", "")), _int(cursor["id"])) \
                    and field != "id":
                raise FatalError(f"Lime {entity}/Select went backwards; stopping to avoid a loop")
            cursor = {"from": position[0], "id": last["id"]} if field != "id" else {"id": last["id"]}
            cursor_set(connection, entity, json.dumps(cursor))
            done += len(page)
            if progress:
                progress(label, done, None)
            if len(page) < mapping.PAGE_SIZE:
                break

    def _ingest(self, connection: Connection, entity: str, record: Any, report: PullReport) -> None:
        label = entity.lower()
        if not isinstance(record, dict) or record.get("id") is None:
            record = {"id": None, "raw": record}
        # The key names this exact version: same-second edits differ by content.
        version = fingerprint(record)[:16] if entity in ("Clients", "PreOrders") else ""
        row, new = inbox_ingest(connection=connection, kind=KINDS[entity], payload={"data": record},
                                event_key=f"{label}:{record['id']}:{version}")
        self._count(report, label, row, new)

    @staticmethod
    def _count(report: PullReport, label: str, row: Inbox, new: bool) -> None:
        if not new:
            report.add(f"{label} unchanged")
        else:
            report.add(label if row.status == Inbox.Status.PROCESSED else f"{label} {row.status}")

    def _mark_missing(self, connection: Connection, started: Any, report: PullReport) -> None:
        """A full pull that did not see a client (its ref not touched since the pull began):
        mark the mapping, keep our contact. Stubs never seen as clients are left alone."""
        count = ExternalRef.objects.filter(connection=connection, kind="contact", updated_at__lt=started,
                                           missing_since__isnull=True).update(missing_since=timezone.now())
        if count:
            report.add("clients missing in Lime", count)

    # ------------------------------------------------------------------ inbox
    def handle_inbox(self, row: Inbox, fetched: Any = None) -> None:
        handler = {
            "lime.good_type": self._apply_good_type, "lime.client": self._apply_client,
            "lime.check": self._apply_check, "lime.pass": self._apply_pass, "lime.preorder": self._apply_preorder,
        }.get(row.kind)
        if handler is None:
            raise ValidationError(f"Unknown Lime record kind {row.kind!r}.")
        data = row.payload.get("data")
        if not isinstance(data, dict) or data.get("id") in (None, ""):
            raise ValidationError("Lime record without an id.")
        try:
            handler(row.connection, data, row.payload)
        except (TypeError, ValueError, ArithmeticError, KeyError, AttributeError) as exc:
            # Bad data, not a bad day: reject (kept, visible) rather than retry forever.
            raise ValidationError(f"Unexpected Lime data: {type(exc).__name__}: {exc}") from exc

    def _apply_good_type(self, connection: Connection, good: dict[str, Any], payload: dict[str, Any]) -> None:
        product_upsert(name=str(good.get("name") or ""), kind=mapping.product_kind(good),
                       base_price=mapping.from_kopecks(good.get("basePrice")),
                       category=category_get_or_create(payload.get("category_path") or []),
                       connection=connection, external_id=str(good["id"]))

    def _apply_client(self, connection: Connection, client: dict[str, Any], payload: dict[str, Any]) -> None:
        external_id = str(client["id"])
        values = mapping.client_values(client)
        data = mapping.client_to_contact(client)
        known = external_ref_find(connection, "contact", external_id)
        known_contact = Contact.objects.filter(pk=known.local_id).first() if known else None
        if known_contact and known_contact.parent_links.exists():
            # Someone's child (by a family link), whatever its category says: the phone and
            # e-mail it carries are the parents', they must not merge it into a parent.
            held = set(ContactIdentity.objects.filter(contact__children_links__child=known_contact)
                       .values_list("value", flat=True))
            data.category = "child"
            data.phones = [p for p in data.phones if phone_key(p) not in held]
            data.emails = [e for e in data.emails if e.strip().lower() not in held]
        if external_ref_is_echo(connection, "contact", external_id, values):
            contact = contact_for_ref(connection, external_id, data.category)
        else:
            contact, _ = contact_upsert(data, connection=connection, external_id=external_id,
                                        external_values=values)
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
        if external_ref_is_echo(connection, "preorder", str(record["id"]), mapping.preorder_values(record)):
            return  # what we wrote, reported back
        contact = contact_for_ref(connection, record.get("clientId"))
        if contact is None:
            raise ValidationError("Preorder without a client.")
        status = mapping.PREORDER_STATUSES.get(str(record.get("status") or "new"), Preorder.Status.NEW)
        ours = mapping.hub_preorder_id(record)  # created by us, its Insert answer may have been lost
        preorder_upsert(
            preorder=Preorder.objects.filter(pk=ours).first() if ours else None,
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
                                             retry_after=exc.retry_after, rate_limited=isinstance(exc, RateLimited))
            except Exception as exc:  # one bad row must not make the rows already sent go again
                log.exception("Lime push of outbox %s failed", row.pk)
                results[row.pk] = PushResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return results

    def _push_contact(self, connection: Connection, client: LimeClient, row: Outbox) -> PushResult:
        body = mapping.contact_to_client(row.payload)
        ref = external_ref_for_local(connection, "contact", row.target_id)
        if ref is None:
            client_id = self._find_adult_by_email(connection, client, body["email"])
            if client_id is None:
                created = client.call("/api/ClientManagement/Insert", {
                    "email": body["email"], "phoneNumber": body["phoneNumber"], "displayName": body["displayName"]})
                if not isinstance(created, int | str) or not str(created).isdigit():
                    raise FatalError(f"Lime Insert answered {created!r} instead of a client id")
                client_id = str(created)
            # Stored at once (own commit): a failure below must not lead to a second Insert.
            external_ref_link(connection, "contact", row.target_id, client_id)
        else:
            client_id = ref.external_id
        # Empty values are not sent: the hub not knowing a child's phone must not erase Lime's.
        answer = client.call("/api/ClientManagement/Update",
                             {"id": int(client_id), **{k: v for k, v in body.items() if v}})
        if not isinstance(answer, dict) or "userData" not in answer:
            raise FatalError(f"Lime Update answered {str(answer)[:200]}")
        return PushResult(ok=True, external_id=client_id,
                          fingerprint=fingerprint(mapping.client_values(answer["userData"])))

    @staticmethod
    def _find_adult_by_email(connection: Connection, client: LimeClient, email: str) -> str | None:
        if not email:
            return None
        found = client.call("/api/ClientManagement/GetClientInfoByEmail",
                            {"email": email, "installationId": connection.settings.get("installation_id", 1)})
        for item in found if isinstance(found, list) else []:
            user = item.get("userData") if isinstance(item, dict) else None
            if isinstance(user, dict) and user.get("id") and not mapping.is_child(user):
                return str(user["id"])
        return None

    def _push_preorder(self, connection: Connection, client: LimeClient, row: Outbox) -> PushResult:
        snapshot = row.payload
        ref = external_ref_for_local(connection, "preorder", row.target_id)
        if snapshot.get("status") == Preorder.Status.CANCELLED:
            if ref:
                client.call("/api/PreOrders/Cancel", {"id": int(ref.external_id)})
            return PushResult(ok=True, external_id=ref.external_id if ref else "")
        contact_ref = external_ref_for_local(connection, "contact", snapshot["contact_id"])
        if contact_ref is None:
            if connection.settings.get("create_contacts_in_lime"):
                raise RetryableError("the preorder's contact is not in Lime yet (it is being created there)")
            raise FatalError("the preorder's contact is not in Lime, and creating contacts in Lime is off")
        goods = {}
        for line in snapshot.get("lines", []):
            product_ref = external_ref_for_local(connection, "product", line["product_id"])
            if product_ref is None:
                raise FatalError(f"product #{line['product_id']} is not a Lime good type; map it first")
            goods[line["product_id"]] = product_ref.external_id
        body = mapping.preorder_to_lime(snapshot, contact_ref.external_id, goods, connection.time_zone)
        digest = fingerprint(mapping.preorder_values(body))
        if ref:
            client.call("/api/PreOrders/Update", {"id": int(ref.external_id), **body})
            return PushResult(ok=True, external_id=ref.external_id, fingerprint=digest)
        created = client.call("/api/PreOrders/Insert", body)  # idempotent by externalId
        if not str(created).isdigit():
            raise FatalError(f"Lime PreOrders/Insert answered {created!r} instead of an id")
        return PushResult(ok=True, external_id=str(created), fingerprint=digest)
