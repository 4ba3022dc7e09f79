"""Lime payloads ⇄ our domain. Every shape contracts/lime.md marks "assumed" lives here,
so a real deployment corrects it in this one file.

Assumed (no public reference): the change feeds and their filter keys, the client record
fields beyond id/displayName/phoneNumber/email, family links as
``familyLinks: [{clientId, relationType}]`` on the parent, cards on the client, check
entries with ``count`` (quantity) and ``price`` (unit, kopecks), passes with
``userId`` (holder) and ``payerId``, good type ``type``, and every amount in kopecks.
Times are ISO without offset, in the venue's time zone (the connection's).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from hub.models import ContactRelation, Product
from hub.services.contacts import ContactData
from hub.services.money import money, money_from_kopecks
from hub.services.normalize import date_parse

# Feeds: entity → (field the keyset cursor follows, filter key for it). Every feed is read
# in (field, id) order and resumed strictly after the last (field, id) seen:
# ``{<filter key>: value, "afterId": id}``. Receipts and passes follow their id (insertion
# order), so one that arrives late with an older time is still read; clients and preorders
# follow ``modified``, so an edit brings the record round again.
FEEDS = {
    "Clients": ("modified", "modifiedFrom"),
    "Checks": ("id", ""),
    "Passes": ("id", ""),
    "PreOrders": ("modified", "modifiedFrom"),
}
PAGE_SIZE = 200
RELATIONS = {
    "сын": ContactRelation.Relation.SON,
    "дочь": ContactRelation.Relation.DAUGHTER,
    "внук": ContactRelation.Relation.GRANDCHILD,
    "внучка": ContactRelation.Relation.GRANDCHILD,
    "подопечный": ContactRelation.Relation.WARD,
    "подопечная": ContactRelation.Relation.WARD,
}
RELATION_NAMES = {
    ContactRelation.Relation.SON: "Сын", ContactRelation.Relation.DAUGHTER: "Дочь",
    ContactRelation.Relation.GRANDCHILD: "Внук", ContactRelation.Relation.WARD: "Подопечный",
    ContactRelation.Relation.OTHER: "Другое",
}
PRODUCT_KINDS = {"ticket": Product.Kind.TICKET, "deposit": Product.Kind.DEPOSIT,
                 "service": Product.Kind.SERVICE, "goods": Product.Kind.GOODS}
CHECK_RETURN = 1


# ---------------------------------------------------------------- time and money
def to_utc(value: Any, tz: str) -> dt.datetime:
    """'2026-05-01T12:30:00' (venue time, no offset) → aware UTC."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Not a Lime time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.astimezone(dt.UTC)


def to_lime_time(value: dt.datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M:%S")


def to_kopecks(amount: Decimal | str) -> int:
    return int((money(amount) * 100).to_integral_value())


def from_kopecks(value: Any) -> Decimal:
    return money_from_kopecks(value or 0)


# ---------------------------------------------------------------- clients
def split_name(display_name: str) -> tuple[str, str, str]:
    """'Иванова Анна Сергеевна' → (last, first, middle); one word is a first name."""
    parts = (display_name or "").split()
    if len(parts) == 1:
        return "", parts[0], ""
    if not parts:
        return "", "", ""
    return parts[0], parts[1], " ".join(parts[2:])


def display_name(last: str, first: str, middle: str) -> str:
    return " ".join(p for p in (last, first, middle) if p)


def is_child(client: dict[str, Any]) -> bool:
    return str(client.get("category", "")).lower() == "child"


def client_to_contact(client: dict[str, Any]) -> ContactData:
    """A child's phone and e-mail in Lime are the parent's: they identify the parent only."""
    last, first, middle = split_name(str(client.get("displayName") or ""))
    child = is_child(client)
    phone = str(client.get("phoneNumber") or "")
    email = str(client.get("email") or "")
    return ContactData(
        first_name=first[:150], last_name=last[:150], middle_name=middle[:150],
        phones=[("+" + phone) if phone.isdigit() else phone] if phone and not child else [],
        emails=[email] if email and not child else [],
        birth_date=date_parse(client.get("birthDate")),
        category="child" if child else "adult",
    )


def client_values(client: dict[str, Any]) -> dict[str, Any]:
    """What we exchange with Lime about a person, normalised: the echo fingerprint."""
    phone = "".join(ch for ch in str(client.get("phoneNumber") or "") if ch.isdigit())
    return {"displayName": " ".join(str(client.get("displayName") or "").split()),
            "phoneNumber": phone, "email": str(client.get("email") or "").strip().lower(),
            "birthDate": str(client.get("birthDate") or "")[:10] or None}


def contact_to_client(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Our contact snapshot → the fields of ClientManagement/Insert|Update."""
    return {
        "displayName": display_name(snapshot.get("last_name", ""), snapshot.get("first_name", ""),
                                    snapshot.get("middle_name", "")),
        "phoneNumber": "".join(ch for ch in str(snapshot.get("phone") or "") if ch.isdigit()),
        "email": snapshot.get("email") or "",
        "birthDate": snapshot.get("birth_date"),
    }


def relation_of(link: dict[str, Any]) -> str:
    return RELATIONS.get(str(link.get("relationType") or "").strip().lower(), ContactRelation.Relation.OTHER)


# ---------------------------------------------------------------- products
def product_kind(good: dict[str, Any]) -> str:
    return PRODUCT_KINDS.get(str(good.get("type") or "").lower(), Product.Kind.TICKET)


def category_paths(categories: list[dict[str, Any]]) -> dict[Any, list[str]]:
    """Category id → names from the root, e.g. ['Билеты', 'Детские билеты']."""
    by_id = {c.get("id"): c for c in categories if isinstance(c, dict)}
    paths: dict[Any, list[str]] = {}
    for cid in by_id:
        path, seen, current = [], set(), by_id.get(cid)
        while current and current.get("id") not in seen:
            seen.add(current.get("id"))
            path.insert(0, str(current.get("name") or ""))
            current = by_id.get(current.get("parentId"))
        paths[cid] = path
    return paths


# ---------------------------------------------------------------- preorders
def preorder_to_lime(snapshot: dict[str, Any], client_id: str, good_type_ids: dict[int, str], tz: str,
                     ) -> dict[str, Any]:
    when = snapshot.get("scheduled_for")
    return {
        "clientId": int(client_id),
        "date": to_lime_time(dt.datetime.fromisoformat(when), tz) if when else None,
        "comment": snapshot.get("comment", ""),
        "externalId": f"{PREORDER_EXTERNAL_PREFIX}{snapshot['id']}",
        "status": snapshot.get("status") or "new",
        "lines": [{"goodTypeId": int(good_type_ids[ln["product_id"]]), "count": float(ln["quantity"]),
                   "price": to_kopecks(ln["price"])} for ln in snapshot.get("lines", [])],
    }


PREORDER_STATUSES = {"new": "new", "confirmed": "confirmed", "cancelled": "cancelled", "done": "done"}
PREORDER_EXTERNAL_PREFIX = "hub-preorder-"


def hub_preorder_id(record: dict[str, Any]) -> int | None:
    """Our id when the preorder was created by the hub (its externalId), else None."""
    external = str(record.get("externalId") or "")
    tail = external.removeprefix(PREORDER_EXTERNAL_PREFIX)
    return int(tail) if external.startswith(PREORDER_EXTERNAL_PREFIX) and tail.isdigit() else None


def preorder_values(record: dict[str, Any]) -> dict[str, Any]:
    """What we exchange about a preorder, normalised: the echo fingerprint."""
    return {"date": str(record.get("date") or "")[:19] or None, "comment": str(record.get("comment") or ""),
            "status": str(record.get("status") or "new"),
            "lines": [[str(ln.get("goodTypeId")), float(ln.get("count") or 1), int(ln.get("price") or 0)]
                      for ln in record.get("lines") or [] if isinstance(ln, dict)]}
