"""The CRM port over Bitrix24: everything through ``batch`` (≤ 50 commands, one request
against the limit), deals created with their product rows by ``$result`` reference."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.bitrix24 import mapping
from connectors.bitrix24.client import MAX_BATCH, Bitrix24Client, command, to_query
from connectors.crm.cards import card_matches
from connectors.crm.port import CrmContact, CrmDeal, CrmField, CrmProduct, CrmTask, Pipeline, Stage, Written
from hub.models import Connection
from hub.sync.errors import FatalError, SyncError


class Bitrix24Adapter:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.client = Bitrix24Client(connection)
        self.field_names: dict[str, str] = connection.settings.get("fields", {})
        self._current: dict[str, dict[str, Any]] = {}  # raw contacts read by get_contacts, for updates

    def _run(self, commands: dict[str, str], groups: list[list[str]] | None = None) -> Written:
        """Batches of 50 (``halt=0``: every command runs); each command's error is its own.
        ``groups`` are keys that must share a batch (one refers to another's ``$result``)."""
        written = Written()
        stop: Exception | None = None
        for keys in self._pack(groups if groups is not None else [[k] for k in commands]):
            chunk = {k: commands[k] for k in keys}
            if stop is not None:
                written.errors.update({k: stop for k in chunk})
                continue
            try:
                done, errors = self.client.batch(chunk)
            except SyncError as exc:
                written.errors.update({k: exc for k in chunk})
                stop = exc if exc.retryable else None
                continue
            written.ids.update({k: v for k, v in done.items() if k not in errors})
            for key, error in errors.items():
                written.errors[key] = FatalError(
                    f"Bitrix24 {error.get('error')}: {error.get('error_description', '')}".strip())
        return written

    @staticmethod
    def _pack(groups: list[list[str]]) -> list[list[str]]:
        """Groups of keys into batches of at most 50, a group never split."""
        batches: list[list[str]] = []
        for group in groups:
            if batches and len(batches[-1]) + len(group) <= MAX_BATCH:
                batches[-1] += group
            else:
                batches.append(list(group))
        return batches

    def _read_contacts(self, external_ids: list[str]) -> Written:
        """Raw contacts by id (kept for the multi-field IDs an update needs)."""
        wanted = [i for i in dict.fromkeys(external_ids) if i not in self._current]
        read = self._run({i: command(mapping.CONTACT_GET, {"id": i}) for i in wanted})
        self._current.update({i: row for i, row in read.ids.items() if isinstance(row, dict)})
        return Written(ids={i: self._current[i] for i in external_ids if i in self._current},
                       errors={i: e for i, e in read.errors.items()})

    def upsert_contacts(self, items: list[tuple[str, CrmContact, str]]) -> Written:
        current = self._read_contacts([ext for _, _, ext in items if ext])
        self._current.clear()  # read once per write: the next write reads again
        result = Written()
        commands: dict[str, str] = {}
        for key, contact, ext in items:
            if ext and ext in current.errors:
                result.errors[key] = current.errors[ext]  # e.g. deleted in the portal
            elif ext:
                fields = mapping.contact_fields(contact, self.field_names, current.ids.get(ext))
                commands[key] = command(mapping.CONTACT_UPDATE, {"id": ext, "fields": fields})
            else:
                commands[key] = command(mapping.CONTACT_ADD, {"fields": mapping.contact_fields(contact,
                                                                                                self.field_names)})
        done = self._run(commands)
        result.errors.update(done.errors)
        for key, _, ext in items:
            if key in done.ids:
                result.ids[key] = ext or str(done.ids[key])
        return result

    def find_contacts(self, items: list[tuple[str, CrmContact, dt.datetime]]) -> dict[str, list[str]]:
        """``crm.duplicate.findbycomm`` by each contact's phones and e-mails (one batch), then the
        candidates read (one more) to keep those made since the earlier create and really carrying
        one of ours; a contact with neither is looked for by its exact name. A failed lookup raises."""
        commands: dict[str, str] = {}
        for n, (_, contact, since) in enumerate(items):
            for kind, values in (("PHONE", contact.phones), ("EMAIL", contact.emails)):
                if values:
                    commands[f"{kind[0]}{n}"] = command(mapping.DUPLICATES, {
                        "entity_type": "CONTACT", "type": kind, "values": values[:mapping.DUPLICATE_VALUES]})
            if not contact.phones and not contact.emails and (contact.first_name or contact.last_name):
                commands[f"N{n}"] = command(mapping.CONTACT_LIST, {"select": ["ID"], "filter": {
                    "NAME": contact.first_name, "LAST_NAME": contact.last_name,
                    ">=DATE_CREATE": since.isoformat(timespec="seconds")}})
        ids = self._raise_first(self._run(commands))
        candidates: dict[int, set[str]] = {}
        for cmd, result in ids.items():
            found = ([str(row["ID"]) for row in result if isinstance(row, dict)] if cmd[0] == "N"
                     else mapping.duplicate_ids(result))
            candidates.setdefault(int(cmd[1:]), set()).update(found)
        wanted = sorted({i for found in candidates.values() for i in found}, key=int)
        read = self._run({i: command(mapping.CONTACT_GET, {"id": i}) for i in wanted})
        for error in read.errors.values():  # a candidate we may not read (deleted, access denied) is skipped
            if not isinstance(error, SyncError) or error.retryable:
                raise error
        rows = read.ids
        matches: dict[str, list[str]] = {}
        for n, (key, contact, since) in enumerate(items):
            ours = [i for i in sorted(candidates.get(n, ()), key=int) if isinstance(rows.get(i), dict)
                    and (mapping.created_at(rows[i]) or since) >= since
                    and card_matches(contact, mapping.contact_from_b24(rows[i]))]
            if ours:
                matches[key] = ours
        return matches

    def find_deals(self, items: list[tuple[str, CrmDeal, dt.datetime]]) -> dict[str, list[str]]:
        """By the ``ORIGIN_ID`` every deal we create carries: ``crm.deal.list`` with ``@ORIGIN_ID``,
        50 keys a command, all in one batch. A failed lookup raises."""
        origins = sorted({deal.origin for _, deal, _ in items if deal.origin})
        chunks = [origins[i:i + mapping.LIST_PAGE] for i in range(0, len(origins), mapping.LIST_PAGE)]
        listed = self._raise_first(self._run({str(n): command(mapping.DEAL_LIST, {
            "select": ["ID", "ORIGIN_ID"], "order": {"ID": "ASC"},
            "filter": {"ORIGINATOR_ID": mapping.ORIGINATOR, "@ORIGIN_ID": chunk}}) for n, chunk in enumerate(chunks)}))
        by_origin: dict[str, list[str]] = {}
        for rows in listed.values():
            for row in rows if isinstance(rows, list) else []:
                by_origin.setdefault(str(row.get("ORIGIN_ID")), []).append(str(row["ID"]))
        return {key: sorted(by_origin[deal.origin], key=int) for key, deal, _ in items if by_origin.get(deal.origin)}

    def upsert_deals(self, items: list[tuple[str, CrmDeal, str]]) -> Written:
        """Deal + its product rows in one batch (25 deals a request)."""
        commands: dict[str, str] = {}
        refused: dict[str, Exception] = {}
        for key, deal, ext in items:
            try:
                fields = mapping.deal_fields(deal, self.field_names, update=bool(ext))
            except ValueError as exc:
                refused[key] = FatalError(str(exc))  # this deal alone: the rest of the batch goes
                continue
            if ext:
                commands[key] = command(mapping.DEAL_UPDATE, {"id": ext, "fields": fields})
                target = ext
            else:
                commands[key] = command(mapping.DEAL_ADD, {"fields": fields})
                target = f"$result[{key}]"
            rows = urlencode(to_query({"rows": mapping.product_rows(deal)}))
            # $result[…] stays unencoded: Bitrix24 substitutes it in the raw command.
            commands[f"rows{key}"] = f"{mapping.DEAL_ROWS}?id={target}" + (f"&{rows}" if rows else "")
        done = self._run(commands)
        result = Written(errors=refused)
        for key, _, ext in items:
            if key in done.ids:
                result.ids[key] = ext or str(done.ids[key])
            error = done.errors.get(key) or done.errors.get(f"rows{key}")
            if error is not None:
                result.errors[key] = error
        return result

    def add_notes(self, items: list[tuple[str, str, str]]) -> None:
        """Timeline comments, 50 a batch (one request against the limit per 50 notes)."""
        self._raise_first(self._run({
            str(n): command(mapping.COMMENT_ADD, {"fields": {"ENTITY_ID": ext, "ENTITY_TYPE": entity, "COMMENT": text}})
            for n, (entity, ext, text) in enumerate(items)}))

    def add_tasks(self, items: list[tuple[str, CrmTask]]) -> Written:
        """A to-do (``crm.activity.todo.add``) per task, batched. A task naming no responsible goes
        to the contact's/deal's manager: the item is read in the same batch and the to-do takes
        ``$result[owner…][ASSIGNED_BY_ID]`` (25 such tasks a request; 50 with a responsible)."""
        result = Written()
        commands: dict[str, str] = {}
        groups: list[list[str]] = []
        for key, task in items:
            if task.entity not in mapping.OWNER_TYPES or not str(task.external_id).isdigit():
                result.errors[key] = FatalError(f"Bitrix24: no {task.entity} {task.external_id!r} to put a to-do on")
                continue
            todo = command(mapping.TODO_ADD, mapping.todo_params(task))
            if task.responsible_id:
                commands[key] = todo
                groups.append([key])
                continue
            owner = f"owner{key}"
            commands[owner] = command(mapping.OWNER_GET[task.entity], {"id": task.external_id})
            # $result[…] stays unencoded: Bitrix24 substitutes it in the raw command.
            commands[key] = f"{todo}&responsibleId=$result[{owner}][{mapping.MANAGER}]"
            groups.append([owner, key])
        done = self._run(commands, groups)
        for key, _ in items:
            if key in done.ids:
                value = done.ids[key]
                result.ids[key] = str(value.get("id") if isinstance(value, dict) else value)
            elif key not in result.errors:
                result.errors[key] = (done.errors.get(key) or done.errors.get(f"owner{key}")
                                      or FatalError(f"Bitrix24 did not answer for to-do {key}"))
        return result

    def list_pipelines(self) -> list[Pipeline]:
        categories = (self.client.call("crm.category.list", {"entityTypeId": 2}) or {}).get("result", {})
        categories = categories.get("categories", []) if isinstance(categories, dict) else []
        stages = self._raise_first(self._run({
            str(c["id"]): command("crm.status.list", {"filter": {
                "ENTITY_ID": "DEAL_STAGE" if int(c["id"]) == 0 else f"DEAL_STAGE_{c['id']}"}})
            for c in categories}))
        return [Pipeline(str(c["id"]), str(c.get("name", "")),
                         tuple(Stage(str(st["STATUS_ID"]), str(st.get("NAME", "")))
                               for st in stages.get(str(c["id"]), [])))
                for c in categories]

    @staticmethod
    def _raise_first(written: Written) -> dict[str, Any]:
        if written.errors:
            raise next(iter(written.errors.values()))
        return written.ids

    def list_fields(self, entity: str) -> list[CrmField]:
        fields: list[dict[str, Any]] = []
        start: int | None = 0
        while start is not None:  # 50 a page
            answer = self.client.call(f"crm.{entity}.userfield.list", {"start": start}) or {}
            fields += [f for f in answer.get("result") or [] if isinstance(f, dict)]
            start = answer.get("next")
        return [CrmField(str(f["FIELD_NAME"]), str(f.get("EDIT_FORM_LABEL") or f["FIELD_NAME"]), str(f["FIELD_NAME"]))
                for f in fields]

    def create_field(self, entity: str, name: str, code: str = "") -> CrmField:
        """Bitrix24 field codes are Latin: made from ``code`` (the hub's role), not the label."""
        latin = "".join(ch for ch in (code or "").upper() if ch.isascii() and ch.isalnum())[:12]
        code = "HUB_" + (latin or hashlib.sha256(name.encode()).hexdigest()[:8].upper())  # Cyrillic names too
        self.client.call(f"crm.{entity}.userfield.add", {"fields": {
            "FIELD_NAME": code, "USER_TYPE_ID": "string", "EDIT_FORM_LABEL": name}})
        return CrmField("UF_CRM_" + code, name, "UF_CRM_" + code)

    def get_contact(self, external_id: str) -> dict[str, Any] | None:
        return self.get_contacts([external_id]).get(str(external_id))

    def get_contacts(self, external_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        read = self._read_contacts([str(i) for i in external_ids])
        for error in read.errors.values():
            if "NOT_FOUND" not in str(error):
                raise error
        return {str(i): mapping.contact_from_b24(read.ids[str(i)]) if str(i) in read.ids else None
                for i in external_ids}

    def get_deal(self, external_id: str) -> dict[str, Any] | None:
        read = self._run({"d": command(mapping.DEAL_GET, {"id": external_id})})
        if "d" in read.errors:
            if "NOT_FOUND" in str(read.errors["d"]):
                return None
            raise read.errors["d"]
        return mapping.deal_from_b24(read.ids["d"], portal=self._portal())

    def _portal(self) -> str:
        """The portal's address (file links in deals are relative to it)."""
        hook = str((self.connection.credentials or {}).get("webhook_url") or self.connection.base_url or "")
        parts = urlsplit(hook)
        return f"{parts.scheme}://{parts.netloc}/" if parts.scheme and parts.netloc else ""

    def set_deal_fields(self, items: list[tuple[str, str, dict[str, str]]]) -> Written:
        """``crm.deal.update`` with only the ``UF_CRM_*`` fields named, 50 a ``batch``; a deal the
        portal no longer has fails alone (``NOT_FOUND`` in ``result_error``)."""
        result = Written()
        commands: dict[str, str] = {}
        for key, deal_id, values in items:
            try:
                fields = mapping.deal_field_values(values)
            except ValueError as exc:
                result.errors[key] = FatalError(str(exc))
                continue
            if not str(deal_id).isdigit():
                result.errors[key] = FatalError(f"Bitrix24 deal id {deal_id!r} is not a number")
            elif not fields:
                result.ids[key] = str(deal_id)  # nothing to change: no call
            else:
                commands[key] = command(mapping.DEAL_UPDATE, {"id": deal_id, "fields": fields})
        done = self._run(commands)
        deal_ids = {key: str(deal_id) for key, deal_id, _ in items}
        result.ids.update({key: deal_ids[key] for key in done.ids if key not in done.errors})  # the answer is true
        result.errors.update(done.errors)
        return result

    def create_products(self, items: list[tuple[str, CrmProduct]]) -> Written:
        return self._run({k: command(mapping.PRODUCT_ADD, {"fields": {"NAME": p.name[:255], "PRICE": str(p.price),
                                                                       "CURRENCY_ID": "RUB"}})
                          for k, p in items})

    def list_users(self) -> list[tuple[str, str]]:
        users: list[dict[str, Any]] = []
        start: int | None = 0
        while start is not None:  # 50 a page
            answer = self.client.call("user.get", {"start": start}) or {}
            users += [u for u in answer.get("result") or [] if isinstance(u, dict)]
            start = answer.get("next")
        return [(str(u["ID"]), f"{u.get('NAME') or ''} {u.get('LAST_NAME') or ''}".strip() or str(u["ID"]))
                for u in users]

    def list_catalogs(self) -> list[tuple[str, str]]:
        return []  # one CRM product catalog per portal
