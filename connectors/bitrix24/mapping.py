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
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.crm.port import CrmContact, CrmDeal, CrmEvent, CrmTask

CONTACT_ADD, CONTACT_UPDATE, CONTACT_GET = "crm.contact.add", "crm.contact.update", "crm.contact.get"
DEAL_ADD, DEAL_UPDATE, DEAL_GET = "crm.deal.add", "crm.deal.update", "crm.deal.get"
DEAL_ROWS, PRODUCT_ADD = "crm.deal.productrows.set", "crm.product.add"
COMMENT_ADD = "crm.timeline.comment.add"
TODO_ADD = "crm.activity.todo.add"
OWNER_TYPES = {"contact": 3, "deal": 2}  # CRM object type ids
OWNER_GET = {"contact": CONTACT_GET, "deal": DEAL_GET}
MANAGER = "ASSIGNED_BY_ID"  # a contact's / deal's responsible user
TITLE_MAX = 255
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
    fields: dict[str, Any] = {"TITLE": deal.title[:255], "OPPORTUNITY": str(deal.amount), "CURRENCY_ID": "RUB"}
    if not update:  # an update never moves the deal: the manager owns its stage
        fields.update(CATEGORY_ID=deal.pipeline_id, STAGE_ID=deal.stage_id)
    if deal.contact_external_id:
        fields["CONTACT_ID"] = deal.contact_external_id
    for role, text in deal.fields.items():
        if field_names.get(role):
            fields[field_names[role]] = text
    return fields


def product_rows(deal: CrmDeal) -> list[dict[str, Any]]:
    return [{"PRODUCT_NAME": row.name, "PRICE": str(row.price), "QUANTITY": str(row.quantity),
             **({"PRODUCT_ID": row.external_product_id} if row.external_product_id else {})}
            for row in deal.products]


def deal_from_b24(data: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(data.get("ID", "")), "title": str(data.get("TITLE") or ""),
            "pipeline_id": str(data.get("CATEGORY_ID") or "0"), "stage_id": str(data.get("STAGE_ID") or ""),
            "amount": str(data.get("OPPORTUNITY") or 0), "contact_id": str(data.get("CONTACT_ID") or ""),
            "fields": {k: str(v) for k, v in data.items() if k.startswith("UF_CRM_") and v is not None}}


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
    if not entity_id.isdigit():
        raise ValueError(f"{form.get('event')} without a numeric data[FIELDS][ID]")
    entity, action = known
    data = {k: v for k, v in form.items() if k.startswith("data[") or k in ("event", "ts")}
    return CrmEvent(entity=entity, action=action, external_id=str(entity_id), data=data)
