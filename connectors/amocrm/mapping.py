"""amoCRM payloads ⇄ the CRM port's neutral shapes; webhook form bodies → events. When amoCRM
behaves otherwise than written here, this file (and the emulator) is what changes.

Tasks and bulk notes — confirmed from public sources:

- ``POST /api/v4/tasks`` takes an array (many tasks in one request) of ``{text, complete_till
  (unix seconds), entity_id, entity_type: "leads"|"contacts"|"companies"|"customers",
  task_type_id, responsible_user_id, request_id}``; ``text`` and ``complete_till`` are the only
  required fields; a task must have a responsible user and a due time; the standard task types
  are 1 (call) and 2 (meeting); the answer is ``{"_links", "_embedded": {"tasks": [{"id",
  "request_id", "_links"}]}}``, ``request_id`` "is returned unchanged and not stored" —
  https://www.amocrm.ru/developers/content/crm_platform/tasks-api ,
  https://developers.kommo.com/reference/add-tasks (Kommo is the same API); the official PHP
  client matches created tasks to its own by ``request_id``, not by position
  (github.com/amocrm/amocrm-api-php src/AmoCRM/EntitiesServices/Tasks.php, Models/TaskModel.php).
- Notes in bulk: ``POST /api/v4/{leads|contacts|companies|customers}/notes`` with an array of
  ``{entity_id, note_type: "common", params: {text}, request_id}``; the answer's
  ``_embedded.notes`` carries ``id``, ``entity_id``, ``request_id`` — https://www.amocrm.ru/
  developers/content/crm_platform/events-and-notes , https://developers.kommo.com/reference/
  add-notes , amocrm-api-php src/AmoCRM/EntitiesServices/EntityNotes.php and Models/NoteModel.php.
- At most 250 entities in one write, 50 recommended (contracts/crm.md): we send 50.

Assumed (not in what could be read):

- A task without ``responsible_user_id`` goes to the user whose token made the call (a Kommo
  reference summary says so; the docs only say a task must have one). The port's "" means the
  entity's responsible, so the adapter reads it from the contact/lead and sends it.
- A task or note naming a lead/contact that does not exist is refused with 400 problem+json
  whose ``validation-errors`` name the item's ``request_id`` (path ``entity_id``), and, as for
  every amoCRM write, the whole request is refused (nothing of it is created).
- A string ``request_id`` comes back exactly as sent (the PHP client's remark that "the API does
  not take 0" is about its integer ids, which it starts at 1).

Finding what a create whose answer was lost made:

- ``GET /api/v4/contacts?query=…`` "searches the entity's filled fields" (``query`` string|int,
  amocrm.ru/developers/content/crm_platform/contacts-api; the same for leads in leads-api): one
  request per contact, by its first phone as we wrote it (E.164), else its first e-mail, else
  its name; every answer is checked here (made since the earlier create, one of our phones or
  e-mails, or the exact name). Contacts carry ``created_at`` (unix seconds).
- ``GET /api/v4/leads`` with ``filter[name][]`` (several), ``filter[pipeline_id][]``,
  ``filter[created_at][from]`` (unix seconds) and ``with=contacts`` (the lead's contacts in
  ``_embedded.contacts``) — developers.kommo.com/reference/leads-list, amocrm.ru/developers/
  content/crm_platform/filters-api (which calls the filters "alpha, for a limited list of
  accounts": the answer is checked here all the same — name, pipeline, price, contact, made
  since — so an account that ignores a filter only costs more pages). amoCRM keeps no external
  id on a lead, so our deal is recognised by these values, made since the earlier create and not
  linked to another hub row; identical deals (two equal passes in one minute) are told apart by
  taking the oldest free one for each.
- Assumed: ``query`` finds a contact by the phone text exactly as it was written, soon after
  the write (a search index that lags would make a quick retry miss it and create again).

Deal field values (the CRM's own field ids: ``CrmDeal.field_values``, ``set_deal_fields``):

- Written as ``custom_fields_values: [{"field_id", "values": [{"value"}]}]`` in ``POST``/``PATCH
  /api/v4/leads`` (contracts/crm.md); a ``PATCH`` changes only the fields it names. ``"values":
  null`` empties a field (amocrm-api-php Models/CustomFieldsValues/ValueCollections/
  NullCustomFieldValueCollection.php: "passing this object clears the field's value"), so "" is
  sent as null; a new deal simply does not get it. ``request_id`` may ride along in a ``PATCH``
  (the PHP client's LeadModel::toApi always adds it).
- Assumed: a ``PATCH`` naming a lead that no longer exists is refused whole with 400
  problem+json whose ``validation-errors`` name the item's ``request_id`` (as for tasks); the
  adapter drops such items and sends the rest again.
- Read back (``deal_from_amo``) as text, the first value only (multiselect, multitext): strings
  as they are; numbers as digits — date, date_time and birthday fields come as unix seconds and
  stay that digit string (the domain converts them); checkboxes (``true``/``false``) as "1"/"0"
  (assumed: the legacy webhooks send "1"); a file field's value object as its ``file_name``
  (a download link needs the Files API). A field without values or with a ``null`` value is
  left out.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from connectors.crm.port import CrmContact, CrmDeal, CrmEvent, CrmTask

PHONE, EMAIL = "PHONE", "EMAIL"
TASK_CALL = 1  # amoCRM's built-in task type "Звонок" (call)
ENTITY_PATHS = {"contact": "contacts", "deal": "leads"}
_KEY = re.compile(r"^(contacts|leads)\[(add|update|delete|status|responsible|note)\]\[([^\]]+)\]\[(\w+)\]")
ENTITIES = {"contacts": "contact", "leads": "deal"}
ENTITY_ID = re.compile(r"[0-9]{1,19}")  # amoCRM ids are 64-bit integers; "²" or 5,000 digits are not
ACTIONS = {"status": "stage"}


def contact_to_amo(contact: CrmContact, field_ids: dict[str, str], external_id: str = "") -> dict[str, Any]:
    """Phones and e-mails by field code; the hub's card fields by the ids the operator mapped."""
    values: list[dict[str, Any]] = []
    if contact.phones:
        values.append({"field_code": PHONE, "values": [{"value": p, "enum_code": "MOB"} for p in contact.phones]})
    if contact.emails:
        values.append({"field_code": EMAIL, "values": [{"value": e, "enum_code": "WORK"} for e in contact.emails]})
    card = dict(contact.card)
    if contact.birth_date:
        card["birth_date"] = contact.birth_date.isoformat()
    for role, text in card.items():
        if field_ids.get(role):
            values.append({"field_id": int(field_ids[role]), "values": [{"value": text}]})
    body: dict[str, Any] = {"first_name": contact.first_name, "last_name": contact.last_name,
                            "custom_fields_values": values}
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    if name:
        body["name"] = name
    if external_id:
        body["id"] = int(external_id)
    return body


def contact_from_amo(data: dict[str, Any]) -> dict[str, Any]:
    """Their contact → the neutral shape (first/last name, phones, emails)."""
    phones, emails = [], []
    for field in data.get("custom_fields_values") or []:
        if not isinstance(field, dict):
            continue
        values = [str(v.get("value")) for v in field.get("values") or [] if isinstance(v, dict) and v.get("value")]
        if field.get("field_code") == PHONE:
            phones += values
        elif field.get("field_code") == EMAIL:
            emails += values
    first, last = str(data.get("first_name") or ""), str(data.get("last_name") or "")
    if "first_name" not in data and "last_name" not in data and data.get("name"):
        first, _, last = str(data["name"]).partition(" ")  # contacts made in the UI by full name only
    return {"first_name": first, "last_name": last, "phones": phones, "emails": emails}


def deal_to_amo(deal: CrmDeal, field_ids: dict[str, str], external_id: str = "") -> dict[str, Any]:
    """Role fields by the ids the operator mapped, then ``field_values`` as they are (the latter
    win for a field named by both). A field id that is not a number: ValueError."""
    body: dict[str, Any] = {"name": deal.title[:255], "price": int(deal.amount)}
    if not external_id:  # an update never moves the deal: the manager owns its stage
        body.update(pipeline_id=int(deal.pipeline_id), status_id=int(deal.stage_id))
    by_id = {int(field_ids[role]): {"field_id": int(field_ids[role]), "values": [{"value": text}]}
             for role, text in deal.fields.items() if field_ids.get(role)}
    by_id.update({f["field_id"]: f for f in deal_field_values(deal.field_values, create=not external_id)})
    if by_id:
        body["custom_fields_values"] = list(by_id.values())
    if deal.contact_external_id and not external_id:
        body["_embedded"] = {"contacts": [{"id": int(deal.contact_external_id)}]}
    if external_id:
        body["id"] = int(external_id)
    return body


def deal_field_values(values: dict[str, str], create: bool = False) -> list[dict[str, Any]]:
    """Their field id → text as ``custom_fields_values``; "" clears the field (``values: null``)
    and is left out of a new deal. A field id that is not a number: ValueError (never dropped
    silently)."""
    items = []
    for field_id, text in values.items():
        if not str(field_id).strip().isdigit():
            raise ValueError(f"amoCRM deal field id {field_id!r} is not a number")
        if text == "" and create:
            continue
        items.append({"field_id": int(field_id), "values": [{"value": str(text)}] if text != "" else None})
    return items


def field_text(field: dict[str, Any]) -> str | None:
    """A custom field's first value as text, None when it has none (rules in the module notes)."""
    values = field.get("values")
    first = values[0] if isinstance(values, list) and values else None
    value = first.get("value") if isinstance(first, dict) else first
    if isinstance(value, dict):  # a file
        return str(value["file_name"]) if value.get("file_name") else None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return None if value is None else str(value)


def deal_from_amo(data: dict[str, Any]) -> dict[str, Any]:
    """Their lead → the neutral shape; ``fields``: their field id → ``field_text``."""
    contacts = (data.get("_embedded") or {}).get("contacts") or []
    fields = {str(f.get("field_id")): text for f in data.get("custom_fields_values") or []
              if isinstance(f, dict) and (text := field_text(f)) is not None}
    return {"id": str(data.get("id", "")), "title": str(data.get("name") or ""),
            "pipeline_id": str(data.get("pipeline_id") or ""), "stage_id": str(data.get("status_id") or ""),
            "amount": str(data.get("price") or 0),
            "contact_id": str(contacts[0]["id"]) if contacts and isinstance(contacts[0], dict) else "",
            "fields": fields}


def made_since(data: dict[str, Any], since: dt.datetime) -> bool:
    """Their ``created_at`` (unix seconds) is not before ``since``; a row without one counts."""
    created = data.get("created_at")
    return not isinstance(created, int) or created >= unix_seconds(since)


def lead_matches(data: dict[str, Any], deal: CrmDeal, since: dt.datetime) -> bool:
    """Their lead is the one ``deal_to_amo`` would have created for ``deal`` since ``since``."""
    contacts = (data.get("_embedded") or {}).get("contacts") or []
    contact = str(contacts[0].get("id")) if contacts and isinstance(contacts[0], dict) else ""
    return (str(data.get("name") or "") == deal.title[:255] and str(data.get("pipeline_id")) == str(deal.pipeline_id)
            and int(data.get("price") or 0) == int(deal.amount) and contact == str(deal.contact_external_id or "")
            and made_since(data, since))


def task_to_amo(task: CrmTask, responsible_id: str = "", task_type_id: int = TASK_CALL) -> dict[str, Any]:
    """A to-do on a contact/lead; ``responsible_id`` is the entity's manager when the task names none."""
    body: dict[str, Any] = {"text": task.text, "complete_till": unix_seconds(task.deadline),
                            "entity_id": int(task.external_id), "entity_type": ENTITY_PATHS[task.entity],
                            "task_type_id": task_type_id}
    responsible = task.responsible_id or responsible_id
    if responsible:
        body["responsible_user_id"] = int(responsible)
    return body


def note_to_amo(external_id: str, text: str) -> dict[str, Any]:
    """One item of a bulk ``POST /api/v4/{entity_type}/notes``."""
    return {"entity_id": int(external_id), "note_type": "common", "params": {"text": text}}


def unix_seconds(moment: dt.datetime) -> int:
    """Unix seconds; a naive time is taken as UTC (the port promises aware ones)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def rejected_request_ids(body: Any) -> dict[str, str]:
    """``request_id`` → readable reason, from a problem+json 400's ``validation-errors``."""
    found: dict[str, str] = {}
    for item in (body.get("validation-errors") or []) if isinstance(body, dict) else []:
        if not isinstance(item, dict) or item.get("request_id") is None:
            continue
        details = [f"{e.get('path')}: {e.get('detail') or e.get('code')}"
                   for e in item.get("errors") or [] if isinstance(e, dict)]
        found[str(item["request_id"])] = "; ".join(details) or str(body.get("detail") or "")
    return found


def events_from_form(form: dict[str, str]) -> list[CrmEvent]:
    """``contacts[update][0][id]=5`` … → events, keyed by position as sent (parse by key)."""
    grouped: dict[tuple[str, str, str], dict[str, str]] = {}
    for key, value in form.items():
        match = _KEY.match(key)
        if match:
            entity, action, index, name = match.groups()
            grouped.setdefault((entity, action, index), {})[name] = value
    events = []
    for (entity, action, index), data in grouped.items():
        if action == "note":  # notes carry their own shape; kept as an unrouted event
            continue
        if not ENTITY_ID.fullmatch(str(data.get("id", ""))):
            raise ValueError(f"{entity}[{action}][{index[:20]}][id] is not a number")
        if data.get("type", "contact") != "company":
            events.append(CrmEvent(entity=ENTITIES[entity], action=ACTIONS.get(action, action),
                                   external_id=str(data["id"]), data=data))
    return events
