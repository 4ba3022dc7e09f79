"""Their payloads ⇄ our domain, for the generic HTTP protocol (PROTOCOL.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hub.services.contacts import ContactData
from hub.services.normalize import date_parse, phone_key

CONTACT_KEYS = ("first_name", "last_name", "middle_name", "phone", "email", "birth_date", "category")


def contact_from_remote(data: dict[str, Any]) -> ContactData:
    return ContactData(
        first_name=str(data.get("first_name") or "")[:150],
        last_name=str(data.get("last_name") or "")[:150],
        middle_name=str(data.get("middle_name") or "")[:150],
        phones=[str(data["phone"])] if data.get("phone") else [],
        emails=[str(data["email"])] if data.get("email") else [],
        birth_date=date_parse(data.get("birth_date")),
    )


def contact_values(data: dict[str, Any]) -> dict[str, Any]:
    """The fields we exchange, normalised: the echo fingerprint is computed over this, for
    their records and for our snapshots alike."""
    values = {k: (str(data.get(k)).strip() if data.get(k) else None)
              for k in ("first_name", "last_name", "phone", "email", "birth_date")}
    if values["phone"]:
        values["phone"] = phone_key(values["phone"])
    if values["email"]:
        values["email"] = values["email"].lower()
    return values


def event_to_remote(row_id: int, action: str, payload: dict[str, Any], occurred_at: dt.datetime) -> dict[str, Any]:
    return {"id": f"hub-{row_id}", "type": action, "occurred_at": occurred_at.isoformat(), "data": payload}
