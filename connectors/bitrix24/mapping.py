"""Bitrix24 payloads ⇄ the CRM port's neutral shapes; method names in one place (the
classic crm.contact.* / crm.deal.*; switching to crm.item.* is an edit here)."""

from __future__ import annotations

from typing import Any

from connectors.crm.port import CrmContact, CrmDeal, CrmEvent

CONTACT_ADD, CONTACT_UPDATE, CONTACT_GET = "crm.contact.add", "crm.contact.update", "crm.contact.get"
DEAL_ADD, DEAL_UPDATE, DEAL_GET = "crm.deal.add", "crm.deal.update", "crm.deal.get"
DEAL_ROWS, PRODUCT_ADD = "crm.deal.productrows.set", "crm.product.add"
COMMENT_ADD = "crm.timeline.comment.add"
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
