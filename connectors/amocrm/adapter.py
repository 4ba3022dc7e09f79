"""The CRM port over amoCRM: batched writes (≤ 250 per request, 50 by default; tasks and notes
50 a request)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from connectors.amocrm import mapping
from connectors.amocrm.client import AmoClient
from connectors.crm.cards import card_matches
from connectors.crm.port import CrmContact, CrmDeal, CrmField, CrmProduct, CrmTask, Pipeline, Stage, Written
from hub.models import Connection
from hub.sync.errors import FatalError, SyncError

MAX_BATCH = 250
ITEM_BATCH = 50  # tasks and notes per request: amoCRM recommends ≤ 50
TITLES_PER_LOOKUP = 10  # filter[name][] values a request when looking for a lost create
REFUSALS = 3  # a batch with refused items is sent again without them at most this often


class AmoCRMAdapter:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.client = AmoClient(connection)
        self.batch = max(1, min(int(connection.settings.get("batch_size", 50)), MAX_BATCH))
        self.field_ids: dict[str, str] = connection.settings.get("fields", {})

    def _write(self, entity: str, rows: list[tuple[str, dict[str, Any]]], embedded: str = "",
               drop_refused: bool = False) -> Written:
        """Creates in POST batches, updates in PATCH batches. amoCRM applies a request whole
        or not at all, so a failed request fails its own keys; after a retryable failure
        (limit, outage) the rest is not tried now. With ``drop_refused`` the items amoCRM names
        as invalid fail alone and the rest of their request is sent again."""
        written = Written()
        creates = [(k, b) for k, b in rows if "id" not in b]
        updates = [(k, b) for k, b in rows if "id" in b]
        chunks = [("POST", creates[i:i + self.batch]) for i in range(0, len(creates), self.batch)]
        chunks += [("PATCH", updates[i:i + self.batch]) for i in range(0, len(updates), self.batch)]
        path = f"/api/v4/{entity}"

        def send(method: str, chunk: list[tuple[str, dict[str, Any]]]) -> None:
            if drop_refused:
                chunk, answer = self._send_refusable(method, path, chunk, written, entity)
            elif method == "POST":
                answer = self.client.send(method, path, [{**b, "request_id": k} for k, b in chunk])
            else:
                answer = self.client.send(method, path, [b for _, b in chunk])
            if method == "POST":
                sent = {k for k, _ in chunk}
                for item in (answer or {}).get("_embedded", {}).get(embedded or entity, []):
                    if not drop_refused or str(item.get("request_id")) in sent:
                        written.ids[str(item.get("request_id"))] = str(item["id"])
            else:
                written.ids.update({k: str(b["id"]) for k, b in chunk})

        return self._in_chunks(chunks, send, written, entity)

    def _send_refusable(self, method: str, path: str, chunk: list[tuple[str, dict[str, Any]]], written: Written,
                        what: str) -> tuple[list[tuple[str, dict[str, Any]]], Any]:
        """Send items with ``request_id`` = key. amoCRM refuses a whole request for one bad item
        (400 ``validation-errors`` by ``request_id``): those fail alone and the rest is sent again,
        at most REFUSALS times. Returns the items accepted and amoCRM's answer."""
        for _ in range(REFUSALS):
            response = self.client.request(method, path, expected=(400,),
                                           json=[{**body, "request_id": key} for key, body in chunk])
            if response.status_code != 400:
                return chunk, self.client.decode_json(response) or {}
            try:
                refused = mapping.rejected_request_ids(response.json())
            except ValueError:
                refused = {}
            bad = {key for key, _ in chunk if key in refused}
            if not bad:  # refused as a whole: nothing to drop
                raise FatalError(self.client.error_message(response))
            written.errors.update({key: FatalError(f"amoCRM refused this {what} item: {refused[key]}") for key in bad})
            chunk = [(key, body) for key, body in chunk if key not in bad]
            if not chunk:
                return [], {}
        raise FatalError(f"amoCRM kept refusing items of this {what} batch")

    def _in_chunks(self, chunks: list[tuple[str, list[tuple[str, Any]]]],
                   send: Callable[[str, list[tuple[str, Any]]], None], written: Written, what: str) -> Written:
        """Send each (method, chunk); a failed request fails its own keys, and after a retryable
        failure (limit, outage) the rest is not tried now. Keys left unanswered are errors."""
        stop: Exception | None = None
        for method, chunk in chunks:
            if stop is not None:
                written.errors.update({k: stop for k, _ in chunk})
                continue
            try:
                send(method, chunk)
            except SyncError as exc:
                written.errors.update({k: exc for k, _ in chunk if k not in written.ids and k not in written.errors})
                if exc.retryable:
                    stop = exc
        for _, chunk in chunks:
            for key, _ in chunk:
                if key not in written.ids and key not in written.errors:
                    written.errors[key] = FatalError(f"amoCRM did not answer for {what} {key}")
        return written

    def upsert_contacts(self, items: list[tuple[str, CrmContact, str]]) -> Written:
        return self._write("contacts", [(k, mapping.contact_to_amo(c, self.field_ids, ext)) for k, c, ext in items])

    def find_contacts(self, items: list[tuple[str, CrmContact, dt.datetime]]) -> dict[str, list[str]]:
        """``query`` search, one request per contact (newest first, paging stops at one made before
        the earlier create); the answers are checked against the card. A failed lookup raises."""
        found: dict[str, list[str]] = {}
        for key, contact, since in items:
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
            text = (contact.phones or contact.emails or [name])[0].strip()
            if not text:
                continue
            ids = []
            for row in self.client.pages("/api/v4/contacts", "contacts", query=text, **{"order[id]": "desc"}):
                if not mapping.made_since(row, since):
                    break
                if card_matches(contact, mapping.contact_from_amo(row)):
                    ids.append(int(row["id"]))
            if ids:
                found[key] = [str(i) for i in sorted(ids)]
        return found

    def find_deals(self, items: list[tuple[str, CrmDeal, dt.datetime]]) -> dict[str, list[str]]:
        """Leads made since the earlier create in the deal's pipeline under its title (10 titles a
        request, the URL stays short), checked for price and contact too. A failed lookup raises."""
        by_pipeline: dict[str, list[tuple[str, CrmDeal, dt.datetime]]] = {}
        for item in items:
            by_pipeline.setdefault(str(item[1].pipeline_id), []).append(item)
        found: dict[str, list[str]] = {}
        for pipeline, group in by_pipeline.items():
            for start in range(0, len(group), TITLES_PER_LOOKUP):
                chunk = group[start:start + TITLES_PER_LOOKUP]
                rows = list(self.client.pages("/api/v4/leads", "leads", **{
                    "with": "contacts", "filter[pipeline_id][]": [int(pipeline)],
                    "filter[name][]": sorted({deal.title[:255] for _, deal, _ in chunk}),
                    "filter[created_at][from]": min(mapping.unix_seconds(since) for _, _, since in chunk)}))
                for key, deal, since in chunk:
                    ids = sorted(int(row["id"]) for row in rows if mapping.lead_matches(row, deal, since))
                    if ids:
                        found[key] = [str(i) for i in ids]
        return found

    def upsert_deals(self, items: list[tuple[str, CrmDeal, str]]) -> Written:
        rows, bad = self._rows(items, lambda deal, ext: mapping.deal_to_amo(deal, self.field_ids, ext))
        written = self._write("leads", rows)
        written.errors.update(bad)
        linked = [(key, written.ids[key], deal) for key, deal, _ in items
                  if key in written.ids and key not in written.errors]
        for key, error in self._link_products(linked).items():
            written.errors[key] = error  # the deal exists: kept; its product rows are retried
        return written

    def set_deal_fields(self, items: list[tuple[str, str, dict[str, str]]]) -> Written:
        """Only ``custom_fields_values`` in ``PATCH /api/v4/leads``, ``self.batch`` leads a request;
        a lead amoCRM no longer has fails alone (its request is sent again without it)."""
        def body(values: dict[str, str], deal_id: str) -> dict[str, Any]:
            if not str(deal_id).isdigit():
                raise ValueError(f"amoCRM deal id {deal_id!r} is not a number")
            return {"id": int(deal_id), "custom_fields_values": mapping.deal_field_values(values)}

        rows, bad = self._rows([(key, values, deal_id) for key, deal_id, values in items], body)
        nothing = {key for key, row in rows if not row["custom_fields_values"]}  # no request for no change
        written = self._write("leads", [(key, row) for key, row in rows if key not in nothing], drop_refused=True)
        written.ids.update({key: str(row["id"]) for key, row in rows if key in nothing})
        written.errors.update(bad)
        return written

    @staticmethod
    def _rows(items: list[tuple[str, Any, Any]], build: Callable[[Any, Any], dict[str, Any]],
              ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Exception]]:
        """(key, item, their id) → request bodies; an item that cannot be written (an id that is
        not a number) fails alone instead of failing the whole batch."""
        rows: list[tuple[str, dict[str, Any]]] = []
        bad: dict[str, Exception] = {}
        for key, what, ext in items:
            try:
                rows.append((key, build(what, ext)))
            except ValueError as exc:
                bad[key] = FatalError(str(exc))
        return rows, bad

    def _catalog(self) -> int | None:
        catalog = self.connection.settings.get("catalog_id")
        return int(catalog) if catalog else None

    def _link_products(self, deals: list[tuple[str, str, CrmDeal]]) -> dict[str, Exception]:
        """Deals to their catalog elements with the bulk ``POST /leads/link`` (one request for
        many deals, not one each); linking an element again sets its quantity, so a changed
        preorder is re-linked, not doubled."""
        catalog = self._catalog()
        if not catalog:
            return {}
        links = [(key, {"entity_id": int(lead_id), "to_entity_id": int(row.external_product_id),
                        "to_entity_type": "catalog_elements",
                        "metadata": {"quantity": float(row.quantity), "catalog_id": catalog}})
                 for key, lead_id, deal in deals for row in deal.products if row.external_product_id]
        errors: dict[str, Exception] = {}
        for start in range(0, len(links), self.batch):
            chunk = links[start:start + self.batch]
            try:
                self.client.send("POST", "/api/v4/leads/link", [body for _, body in chunk])
            except SyncError as exc:
                errors.update({key: exc for key, _ in chunk})
        return errors

    def create_products(self, items: list[tuple[str, CrmProduct]]) -> Written:
        catalog = self._catalog()
        if not catalog:
            return Written()
        return self._write(f"catalogs/{catalog}/elements", [(k, {"name": p.name[:255]}) for k, p in items],
                           embedded="elements")

    def list_users(self) -> list[tuple[str, str]]:
        return [(str(u["id"]), str(u.get("name") or u["id"])) for u in self.client.pages("/api/v4/users", "users")]

    def list_catalogs(self) -> list[tuple[str, str]]:
        return [(str(c["id"]), str(c.get("name", ""))) for c in self.client.pages("/api/v4/catalogs", "catalogs")]

    def add_notes(self, items: list[tuple[str, str, str]]) -> None:
        """One bulk ``POST /api/v4/{contacts|leads}/notes`` per 50 notes of one entity type, not one
        request per note. The first failure stops the rest, so a retry repeats as few as possible."""
        by_path: dict[str, list[dict[str, Any]]] = {}
        for entity, external_id, text in items:
            by_path.setdefault(self._path(entity), []).append(mapping.note_to_amo(external_id, text))
        size = min(self.batch, ITEM_BATCH)
        for path, notes in by_path.items():
            for start in range(0, len(notes), size):
                self.client.send("POST", f"/api/v4/{path}/notes", notes[start:start + size])

    def add_tasks(self, items: list[tuple[str, CrmTask]]) -> Written:
        """One ``POST /api/v4/tasks`` per 50, answers matched by ``request_id``. amoCRM refuses a
        whole request for one bad item, so a task whose contact/deal is gone fails alone: entities
        are read first (that read also names the manager a task without a responsible goes to),
        and items amoCRM still refuses are dropped and the rest sent again."""
        written = Written()
        owners = self._responsibles([task for _, task in items if not task.responsible_id])
        rows: list[tuple[str, dict[str, Any]]] = []
        task_type = int(self.connection.settings.get("task_type_id") or mapping.TASK_CALL)
        for key, task in items:
            owner = "" if task.responsible_id else owners.get((task.entity, task.external_id), "")
            if task.entity not in mapping.ENTITY_PATHS or not str(task.external_id).isdigit():
                written.errors[key] = FatalError(f"amoCRM: no {task.entity} {task.external_id!r} to put a task on")
            elif isinstance(owner, Exception):
                written.errors[key] = owner
            else:
                rows.append((key, mapping.task_to_amo(task, owner, task_type)))
        size = min(self.batch, ITEM_BATCH)
        chunks = [("POST", rows[start:start + size]) for start in range(0, len(rows), size)]
        return self._in_chunks(chunks, lambda _, chunk: self._post_tasks(chunk, written), written, "task")

    def _post_tasks(self, chunk: list[tuple[str, dict[str, Any]]], written: Written) -> None:
        chunk, answer = self._send_refusable("POST", "/api/v4/tasks", chunk, written, "task")
        sent = {key for key, _ in chunk}
        for item in answer.get("_embedded", {}).get("tasks", []):
            if str(item.get("request_id")) in sent:  # an echo we did not send is not ours to claim
                written.ids[str(item["request_id"])] = str(item["id"])

    def _responsibles(self, tasks: list[CrmTask]) -> dict[tuple[str, str], str | Exception]:
        """(entity, their id) → the entity's responsible user, or why there is none (gone, or the
        read failed): one paged read per entity type, 250 ids a request."""
        found: dict[tuple[str, str], str | Exception] = {}
        for entity in mapping.ENTITY_PATHS:
            ids = sorted({int(t.external_id) for t in tasks if t.entity == entity and str(t.external_id).isdigit()})
            path = self._path(entity)
            for start in range(0, len(ids), MAX_BATCH):
                chunk = ids[start:start + MAX_BATCH]
                try:
                    rows = {str(row["id"]): row for row in self.client.pages(f"/api/v4/{path}", path,
                                                                               **{"filter[id][]": chunk})}
                except SyncError as exc:
                    found.update({(entity, str(i)): exc for i in chunk})
                    continue
                for i in map(str, chunk):
                    row = rows.get(i)
                    found[(entity, i)] = (FatalError(f"amoCRM has no {entity} {i} (deleted?)") if row is None
                                          else str(row.get("responsible_user_id") or ""))
        return found

    def list_pipelines(self) -> list[Pipeline]:
        data = self.client.get("/api/v4/leads/pipelines") or {}
        return [Pipeline(str(p["id"]), str(p.get("name", "")),
                         tuple(Stage(str(s["id"]), str(s.get("name", "")))
                               for s in p.get("_embedded", {}).get("statuses", [])))
                for p in data.get("_embedded", {}).get("pipelines", [])]

    def list_fields(self, entity: str) -> list[CrmField]:
        return [CrmField(str(f["id"]), str(f.get("name", "")), str(f.get("code") or ""))
                for f in self.client.pages(f"/api/v4/{self._path(entity)}/custom_fields", "custom_fields")]

    def create_field(self, entity: str, name: str, code: str = "") -> CrmField:
        data = self.client.send("POST", f"/api/v4/{self._path(entity)}/custom_fields",
                                [{"name": name, "type": "textarea"}])
        field = data["_embedded"]["custom_fields"][0]
        return CrmField(str(field["id"]), name)

    def get_contact(self, external_id: str) -> dict[str, Any] | None:
        return self.get_contacts([external_id]).get(str(external_id))

    def get_contacts(self, external_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        found: dict[str, dict[str, Any] | None] = {str(i): None for i in external_ids}
        ids = [int(i) for i in external_ids]
        for start in range(0, len(ids), MAX_BATCH):
            chunk = {"filter[id][]": ids[start:start + MAX_BATCH]}
            for row in self.client.pages("/api/v4/contacts", "contacts", **chunk):
                found[str(row["id"])] = mapping.contact_from_amo(row)
        return found

    def get_deal(self, external_id: str) -> dict[str, Any] | None:
        response = self.client.request("GET", f"/api/v4/leads/{int(external_id)}", expected=(404,),
                                       params={"with": "contacts"})
        if response.status_code == 404:
            return None
        return mapping.deal_from_amo(self.client.decode_json(response))

    @staticmethod
    def _path(entity: str) -> str:
        return "contacts" if entity == "contact" else "leads"
