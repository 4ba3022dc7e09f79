"""amoCRM payloads ⇄ the CRM port's neutral shapes; webhook form bodies → events."""

from __future__ import annotations

import re
from typing import Any

from connectors.crm.port import CrmContact, CrmDeal, CrmEvent

PHONE, EMAIL = "PHONE", "EMAIL"
_KEY = re.compile(r"^(contacts|leads)\[(add|update|delete|status|responsible|note)\]\[([^\]]+)\]\[(\w+)\]")
ENTITIES = {"contacts": "contact", "leads": "deal"}
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
    body: dict[str, Any] = {"name": deal.title[:255], "price": int(deal.amount)}
    if not external_id:  # an update never moves the deal: the manager owns its stage
        body.update(pipeline_id=int(deal.pipeline_id), status_id=int(deal.stage_id))
    values = [{"field_id": int(field_ids[role]), "values": [{"value": text}]}
              for role, text in deal.fields.items() if field_ids.get(role)]
    if values:
        body["custom_fields_values"] = values
    if deal.contact_external_id and not external_id:
        body["_embedded"] = {"contacts": [{"id": int(deal.contact_external_id)}]}
    if external_id:
        body["id"] = int(external_id)
    return body


def deal_from_amo(data: dict[str, Any]) -> dict[str, Any]:
    contacts = (data.get("_embedded") or {}).get("contacts") or []
    fields = {str(f.get("field_id")): str((f.get("values") or [{}])[0].get("value", ""))
              for f in data.get("custom_fields_values") or [] if isinstance(f, dict) and f.get("values")}
    return {"id": str(data.get("id", "")), "title": str(data.get("name") or ""),
            "pipeline_id": str(data.get("pipeline_id") or ""), "stage_id": str(data.get("status_id") or ""),
            "amount": str(data.get("price") or 0),
            "contact_id": str(contacts[0]["id"]) if contacts and isinstance(contacts[0], dict) else "",
            "fields": fields}


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
        if not str(data.get("id", "")).isdigit():
            raise ValueError(f"{entity}[{action}][{index}][id] is not a number")
        if data.get("type", "contact") != "company":
            events.append(CrmEvent(entity=ENTITIES[entity], action=ACTIONS.get(action, action),
                                   external_id=str(data["id"]), data=data))
    return events
