"""Bitrix24 payloads ⇄ the CRM port's neutral shapes; method names in one place (the
classic crm.contact.* / crm.deal.*; switching to crm.item.* is an edit here). When Bitrix24
behaves otherwise than written here, this file (and the emulator) is what changes.

A manager's to-do — confirmed from public sources:

- ``crm.activity.todo.add`` adds a "universal activity" (дело) to an item's timeline:
  ``ownerTypeId``* (CRM object type: 3 contact, 2 deal), ``ownerId``*, ``deadline``* (datetime,
  e.g. ``2025-02-03T15:00:00``), ``title``, ``description``, ``responsibleId``,
  ``parentActivityId``, ``pingOffsets``, ``colorId``; answers ``{"result": {"id": 999}}``; errors
  (HTTP 400) ``100`` required fields missing, ``NOT_FOUND`` CRM entity not found,
  ``ACCESS_DENIED``, ``OWNER_NOT_FOUND``, ``WRONG_DATETIME_FORMAT`` —
  https://apidocs.bitrix24.com/api-reference/crm/timeline/activities/todo/crm-activity-todo-add.html
  (github.com/bitrix24/b24restdocs, same text), https://dev.1c-bitrix.ru/rest_help/crm/
  rest_activity/todo/crm_activity_todo_add.php (``crm.activity.todo.add?ownerTypeId=2&ownerId=1
  &deadline=…&description=…`` in a query string, as batch commands are written).
- Why this method: ``crm.activity.add`` is superseded ("since CRM 22.1350.0 the method is
  outdated, use crm.activity.todo.add" — dev.1c-bitrix.ru/rest_help/crm/rest_activity/
  crm_activity_add.php), and ``tasks.task.add`` makes a task in the Tasks module (scope ``task``,
  linked through ``UF_CRM_TASK``), not the to-do a manager sees in the contact's timeline and
  activity counters with the ``crm`` scope our webhooks already have.
- ``batch`` commands may use ``$result[key][FIELD]`` of an earlier command of the same batch —
  https://apidocs.bitrix24.com/api-reference/how-to-call-rest-api/batch.html ; a contact's or
  deal's manager is its ``ASSIGNED_BY_ID``.
- Timeline notes: ``crm.timeline.comment.add`` (contracts/crm.md), 50 commands a batch.

Assumed (not in what could be read):

- Without ``responsibleId`` the to-do goes to the calling (webhook) user, not to the item's
  manager; the port's "" means the item's manager, so the adapter reads ``ASSIGNED_BY_ID`` in the
  same batch and passes it.
- ``title`` is the first line of our text and ``description`` the whole text.

Finding what a create whose answer was lost made (confirmed from public sources):

- ``crm.duplicate.findbycomm {entity_type: "CONTACT", type: "PHONE"|"EMAIL", values: [≤ 20]}``
  answers the ids of contacts holding any of those values, ``{"CONTACT": [ids]}``; at most 20
  per entity type, the oldest 20; the phone extension is not compared —
  https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html ,
  https://dev.1c-bitrix.ru/rest_help/crm/auxiliary/duplicates/crm_duplicate_findbycomm.php .
- A deal's ``ORIGINATOR_ID`` ("identifier of the data source") and ``ORIGIN_ID`` ("identifier of
  the element in the data source"), both strings "used only for linking to an external source"
  (github.com/bitrix24/b24restdocs api-reference/crm/deals/crm-deal-add.md): a new deal gets
  ``ORIGINATOR_ID = "hub"`` and ``ORIGIN_ID`` = what it stands for ("pass:7"), and is found again
  by ``crm.deal.list {filter: {ORIGINATOR_ID, "@ORIGIN_ID": [...]}}`` (``@`` = IN; list filter
  prefixes ``>= > <= < @ !@ % = != !`` — crm-deal-list.md); ``DATE_CREATE`` is ISO 8601 with the
  portal's offset.
- Assumed: ``findbycomm`` answers an empty array (``[]``, PHP's empty result) when nothing
  matches, and compares phones by their digits. Contacts get no ORIGIN_ID: for contacts the docs
  tie those fields to "protecting data from overwriting by the external system", a behaviour we
  do not want on cards managers edit.

Deal user fields (the CRM's own field ids: ``CrmDeal.field_values``, ``set_deal_fields``):

- Written as ``UF_CRM_*`` keys of ``fields`` in ``crm.deal.add`` / ``crm.deal.update``
  (contracts/crm.md); an update changes only the fields it names, and "" empties one. Keys
  that are not ``UF_CRM_*`` are refused (ValueError) rather than written: they would touch the
  deal's own fields (title, stage, amount), which belong to the manager.
- Read back (``deal_from_b24``) as text, assumed from the shapes ``crm.deal.get`` is seen to
  answer: strings and numbers as they are; a multiple field (a list) → its first item (an
  empty list → ""); a file → ``{"id", "showUrl", "downloadUrl"}`` → the ``downloadUrl`` (else
  ``showUrl``), made absolute on the portal's address when relative (assumed: those links are
  relative to the portal; fetching one may still need the portal's authorisation); a JSON
  boolean → "Y"/"N" (Bitrix24's own flag letters); ``null`` or any other object → left out.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from connectors.crm.port import CrmContact, CrmDeal, CrmEvent, CrmTask

CONTACT_ADD, CONTACT_UPDATE, CONTACT_GET = "crm.contact.add", "crm.contact.update", "crm.contact.get"
CONTACT_LIST, DUPLICATES = "crm.contact.list", "crm.duplicate.findbycomm"
DEAL_ADD, DEAL_UPDATE, DEAL_GET, DEAL_LIST = "crm.deal.add", "crm.deal.update", "crm.deal.get", "crm.deal.list"
ORIGINATOR = "hub"  # our deals' ORIGINATOR_ID; their ORIGIN_ID is the hub key they stand for
DUPLICATE_VALUES = 20  # values per findbycomm call
LIST_PAGE = 50  # a *.list answers 50 a page: as many origins per command
DEAL_ROWS, PRODUCT_ADD = "crm.deal.productrows.set", "crm.product.add"
COMMENT_ADD = "crm.timeline.comment.add"
TODO_ADD = "crm.activity.todo.add"
OWNER_TYPES = {"contact": 3, "deal": 2}  # CRM object type ids
OWNER_GET = {"contact": CONTACT_GET, "deal": DEAL_GET}
MANAGER = "ASSIGNED_BY_ID"  # a contact's / deal's responsible user
TITLE_MAX = 255
ENTITY_ID = re.compile(r"[0-9]{1,19}")
EVENTS = {
    "ONCRMCONTACTADD": ("contact", "add"), "ONCRMCONTACTUPDATE": ("contact", "update"),
    "ONCRMCONTACTDELETE": ("contact", "delete"), "ONCRMDEALADD": ("deal", "add"),
    "ONCRMDEALUPDATE": ("deal", "update"), "ONCRMDEALDELETE": ("deal", "delete"),
    "ONCRMDEALMOVETOCATEGORY": ("deal", "stage"),
}


def _multi(existing: list[dict[str, Any]], values: list[str], value_type: str) -> list[dict[str, Any]]:
    """Replace by ID, delete the rest, append new: a naive update would duplicate phones."""
    items: list[dict[str, Any]] = []
    for n, value in enumerate(values):
        if n < len(existing):
            items.append({"ID": existing[n]["ID"], "VALUE": value, "VALUE_TYPE": value_type})
        else:
            items.append({"VALUE": value, "VALUE_TYPE": value_type})
    items += [{"ID": old["ID"], "DELETE": "Y"} for old in existing[len(values):]]
    return items


def contact_fields(contact: CrmContact, field_names: dict[str, str], current: dict[str, Any] | None = None,
                   ) -> dict[str, Any]:
    current = current or {}
    fields: dict[str, Any] = {
        "NAME": contact.first_name, "LAST_NAME": contact.last_name, "SECOND_NAME": contact.middle_name,
        "PHONE": _multi(current.get("PHONE") or [], contact.phones, "MOBILE"),
        "EMAIL": _multi(current.get("EMAIL") or [], contact.emails, "WORK"),
    }
    if contact.birth_date:
        fields["BIRTHDATE"] = contact.birth_date.isoformat()
    for role, text in contact.card.items():
        if field_names.get(role):
            fields[field_names[role]] = text
    return fields


def contact_from_b24(data: dict[str, Any]) -> dict[str, Any]:
    return {"first_name": str(data.get("NAME") or ""), "last_name": str(data.get("LAST_NAME") or ""),
            "phones": [str(p.get("VALUE")) for p in data.get("PHONE") or [] if isinstance(p, dict)],
            "emails": [str(e.get("VALUE")) for e in data.get("EMAIL") or [] if isinstance(e, dict)]}


def deal_fields(deal: CrmDeal, field_names: dict[str, str], update: bool = False) -> dict[str, Any]:
    """Role fields by the names the operator mapped, then ``field_values`` (they win for a field
    named by both). A ``field_values`` key that is not ``UF_CRM_*``: ValueError."""
    fields: dict[str, Any] = {"TITLE": deal.title[:255], "OPPORTUNITY": str(deal.amount), "CURRENCY_ID": "RUB"}
    if not update:  # an update never moves the deal: the manager owns its stage
        fields.update(CATEGORY_ID=deal.pipeline_id, STAGE_ID=deal.stage_id)
        if deal.origin:  # how a create whose answer was lost is found again
            fields.update(ORIGINATOR_ID=ORIGINATOR, ORIGIN_ID=deal.origin)
    if deal.contact_external_id:
        fields["CONTACT_ID"] = deal.contact_external_id
    for role, text in deal.fields.items():
        if field_names.get(role):
            fields[field_names[role]] = text
    fields.update(deal_field_values(deal.field_values))
    return fields


def deal_field_values(values: dict[str, str]) -> dict[str, str]:
    """Their field id → text as ``fields`` of ``crm.deal.update`` ("" empties the field); a key
    that is not a user field (``UF_CRM_*``): ValueError, never written nor dropped silently."""
    wrong = [name for name in values if not str(name).startswith("UF_CRM_")]
    if wrong:
        raise ValueError(f"Bitrix24: {', '.join(map(repr, wrong))} is not a deal user field (UF_CRM_…)")
    return {str(name): str(text) for name, text in values.items()}


def created_at(data: dict[str, Any]) -> dt.datetime | None:
    """``DATE_CREATE`` (ISO 8601 with the portal's offset) as an aware time; None when absent."""
    try:
        moment = dt.datetime.fromisoformat(str(data.get("DATE_CREATE") or ""))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def duplicate_ids(result: Any) -> list[str]:
    """``crm.duplicate.findbycomm``'s contact ids (``[]`` when it found nothing)."""
    found = result.get("CONTACT") if isinstance(result, dict) else None
    return [str(i) for i in found] if isinstance(found, list) else []


def product_rows(deal: CrmDeal) -> list[dict[str, Any]]:
    return [{"PRODUCT_NAME": row.name, "PRICE": str(row.price), "QUANTITY": str(row.quantity),
             **({"PRODUCT_ID": row.external_product_id} if row.external_product_id else {})}
            for row in deal.products]


def deal_from_b24(data: dict[str, Any], portal: str = "") -> dict[str, Any]:
    """Their deal → the neutral shape; ``fields``: their ``UF_CRM_*`` id → ``field_text``."""
    return {"id": str(data.get("ID", "")), "title": str(data.get("TITLE") or ""),
            "pipeline_id": str(data.get("CATEGORY_ID") or "0"), "stage_id": str(data.get("STAGE_ID") or ""),
            "amount": str(data.get("OPPORTUNITY") or 0), "contact_id": str(data.get("CONTACT_ID") or ""),
            "fields": {k: text for k, v in data.items()
                       if k.startswith("UF_CRM_") and (text := field_text(v, portal)) is not None}}


def field_text(value: Any, portal: str = "") -> str | None:
    """A user field's value as text, None when it has none (rules in the module notes)."""
    if isinstance(value, list):
        return field_text(value[0], portal) if value else ""
    if isinstance(value, dict):
        url = str(value.get("downloadUrl") or value.get("showUrl") or "")
        if not url:
            return None
        return _without_auth(urljoin(portal, url) if portal else url)
    if isinstance(value, bool):
        return "Y" if value else "N"
    return None if value is None else str(value)


def _without_auth(url: str) -> str:
    """File links read with an OAuth app carry ``auth=<access token>``: a secret that changes
    with every refresh, so it must neither be stored nor make the value look changed."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "auth"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def todo_params(task: CrmTask) -> dict[str, Any]:
    """``crm.activity.todo.add`` parameters; ``responsibleId`` only when the task names one."""
    deadline = task.deadline if task.deadline.tzinfo else task.deadline.replace(tzinfo=dt.UTC)
    params: dict[str, Any] = {"ownerTypeId": OWNER_TYPES[task.entity], "ownerId": task.external_id,
                              "deadline": deadline.isoformat(timespec="seconds"),
                              "title": task.text.strip().split("\n", 1)[0][:TITLE_MAX], "description": task.text}
    if task.responsible_id:
        params["responsibleId"] = task.responsible_id
    return params


def event_from_form(form: dict[str, str]) -> CrmEvent | None:
    known = EVENTS.get(str(form.get("event") or "").upper())
    if not known:
        return None
    entity_id = str(form.get("data[FIELDS][ID]") or "")
    if not ENTITY_ID.fullmatch(entity_id):  # Bitrix24 ids are integers; "²" or 5,000 digits are not
        raise ValueError(f"{str(form.get('event'))[:40]} without a numeric data[FIELDS][ID]")
    entity, action = known
    data = {k: v for k, v in form.items() if k.startswith("data[") or k in ("event", "ts")}
    return CrmEvent(entity=entity, action=action, external_id=str(entity_id), data=data)
