"""Everything the hub assumes about the organiser's site endpoint, in one place (PROTOCOL.md):
how requests are signed, how templates and calendar events are written, how a ticket order
reads. When a real site differs, this file (and the emulator) is what changes.

Assumed beyond PROTOCOL.md (our choices, change here):

- ids (event id, order id, calendar event id, product id) may come as JSON strings or integers;
  longer than 255 characters they are refused, names and titles longer than that are cut;
- ``order.refunded`` may come without ``refunded_at`` (the hub then uses the arrival time);
- ``buyer.name`` may hold the whole name ("Имя Фамилия") when ``last_name`` is absent: it is
  kept as the first name as it is, not split;
- at most 200 ticket rows per order and 10 000 tickets per row; prices and the amount are
  rounded to kopecks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from connectors.base.webhooks import hmac_sha256
from hub.sync.errors import FatalError

TIMESTAMP_HEADER = "X-Hub-Timestamp"
SIGNATURE_HEADER = "X-Hub-Signature"
MAX_SKEW = 300  # seconds between the sender's clock and ours

PAID, REFUNDED = "order.paid", "order.refunded"
TYPES = (PAID, REFUNDED)
TEXT_MAX = 255  # Bitrix NAME / XML_ID columns, and our own CharFields
ID_MAX = 64  # order and event ids: the hub's key columns
MAX_TICKET_ROWS = 200
MAX_QUANTITY = 10_000
MAX_MONEY = Decimal("9999999999.99")  # what a 12-digit, 2-place column holds
CENT = Decimal("0.01")
EVENT_KEYS = ("title", "starts_at", "speaker", "host")


# signing ------------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` over ``"<timestamp>." + body``: the timestamp is signed too, so an old
    request cannot be replayed with a fresh timestamp."""
    return hmac_sha256(secret, f"{timestamp}.".encode() + body)


_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signature_problem(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> str:
    """Why a signed request must be refused, or "" when it is fine."""
    if not secret:
        return "no shared secret is configured for this site connection"
    if not timestamp:
        return f"missing {TIMESTAMP_HEADER} header"
    timestamp = timestamp.strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        return f"invalid {TIMESTAMP_HEADER} (expected unix seconds)"
    skew = int(timestamp) - now
    if skew < -MAX_SKEW:
        return f"{TIMESTAMP_HEADER} is too old (more than {MAX_SKEW} s ago)"
    if skew > MAX_SKEW:
        return f"{TIMESTAMP_HEADER} is too far in the future (more than {MAX_SKEW} s ahead)"
    if not signature:
        return f"missing {SIGNATURE_HEADER} header"
    if not hmac.compare_digest(sign(secret, int(timestamp), body).encode(), signature.strip().encode()):
        return "bad signature"
    return ""


# hub → site -----------------------------------------------------------------------------------
def template_xml_id(pk: int) -> str:
    return f"hub-t-{pk}"


def event_xml_id(pk: int) -> str:
    return f"hub-e-{pk}"


def template_body(title: str, description_html: str, image: tuple[str, str, bytes] | None) -> dict[str, Any]:
    """A full template (every property sent, so the site ends up as the hub has it);
    ``image`` = (file name, content type, raw bytes), None removes the picture."""
    picture = None
    if image is not None:
        name, content_type, data = image
        picture = {"name": (name or "image")[:TEXT_MAX], "content_type": content_type,
                   "data": base64.b64encode(data).decode("ascii")}
    return {"title": (title or "")[:TEXT_MAX], "description_html": description_html or "", "image": picture}


def event_body(template_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the released values are sent (the site leaves absent keys as they are);
    ``template_id`` always, as the site needs it when it creates the event."""
    body: dict[str, Any] = {"template_id": str(template_id)}
    for key in EVENT_KEYS:
        if key not in values:
            continue
        value = values[key]
        if key == "starts_at":
            body[key] = _iso(value)
        else:
            text = "" if value is None else str(value)
            body[key] = text[:TEXT_MAX] if key == "title" else text
    return body


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.utcoffset() is None:
        raise FatalError(f"event start must be an aware datetime, got {value!r}")
    return value.isoformat(timespec="seconds")


# site → hub: ticket orders ---------------------------------------------------------------------
@dataclass
class Ticket:
    product_id: str
    name: str
    price: Decimal
    quantity: int


@dataclass
class Sale:
    event_key: str  # the webhook's unique id: a redelivery has the same one
    type: str
    order_id: str
    event_id: str  # the site's calendar event element id
    created_at: dt.datetime
    refunded_at: dt.datetime | None
    first_name: str
    last_name: str
    phone: str
    email: str
    tickets: list[Ticket] = field(default_factory=list)
    amount: Decimal = Decimal("0.00")

    @property
    def refunded(self) -> bool:
        return self.type == REFUNDED


def _reject(message: str) -> ValidationError:
    return ValidationError(message, code="site_invalid")


def _id(value: Any, where: str, limit: int = TEXT_MAX) -> str:
    """A required identifier: a non-empty string or integer, never cut (it is a key)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _reject(f"{where}: нужен идентификатор (строка или число), получено {_kind(value)}.")
    text = str(value).strip()
    if not text:
        raise _reject(f"{where}: пустой идентификатор.")
    if len(text) > limit:
        raise _reject(f"{where}: идентификатор длиннее {limit} символов.")
    return text


def _text(value: Any, where: str, *, cut: bool) -> str:
    """An optional text; null is empty. Longer than 255: cut (names) or refused (contacts)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _reject(f"{where}: нужна строка, получено {_kind(value)}.")
    text = str(value).strip()
    if len(text) > TEXT_MAX:
        if not cut:
            raise _reject(f"{where}: длиннее {TEXT_MAX} символов.")
        text = text[:TEXT_MAX]
    return text


def _moment(value: Any, where: str) -> dt.datetime:
    when = _when(value, where)
    if when is None:
        raise _reject(f"{where}: не указано время.")
    return when


def _when(value: Any, where: str) -> dt.datetime | None:
    """An aware datetime from ISO 8601 text; null or "" is None. Naive times are refused: the
    site's clock zone is not ours to guess."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _reject(f"{where}: время должно быть строкой ISO 8601.")
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise _reject(f"{where}: не время в ISO 8601: {value!r}.") from exc
    if when.utcoffset() is None:
        raise _reject(f"{where}: время без часового пояса: {value!r} (нужно смещение, например +03:00).")
    return when


def _money(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or (
            isinstance(value, str) and len(value) > 32):
        raise _reject(f"{where}: нужна сумма (строка или число), получено {_kind(value)}.")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise _reject(f"{where}: не число: {value!r}.") from exc
    if not amount.is_finite():
        raise _reject(f"{where}: не число: {value!r}.")
    if amount < 0:
        raise _reject(f"{where}: отрицательная сумма {value!r}.")
    if amount > MAX_MONEY:
        raise _reject(f"{where}: слишком большая сумма {value!r}.")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _quantity(value: Any, where: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _reject(f"{where}: количество должно быть целым положительным числом, получено {value!r}.")
    if value > MAX_QUANTITY:
        raise _reject(f"{where}: неправдоподобное количество {value} (больше {MAX_QUANTITY}).")
    return value


def _kind(value: Any) -> str:
    return {dict: "объект", list: "список", bool: "true/false", type(None): "null",
            float: "дробное число"}.get(type(value), type(value).__name__)


def _ticket(item: Any, where: str) -> Ticket:
    if not isinstance(item, dict):
        raise _reject(f"{where}: билет должен быть объектом.")
    return Ticket(product_id=_id(item.get("product_id"), f"{where}.product_id"),
                  name=_text(item.get("name"), f"{where}.name", cut=True),
                  price=_money(item.get("price"), f"{where}.price"),
                  quantity=_quantity(item.get("quantity"), f"{where}.quantity"))


def sale_from_webhook(data: Any) -> Sale:
    """A ticket order from the site's JSON body, checked field by field; ValidationError says
    what is wrong (the site is answered 400 with it, the Inbox keeps it as rejected)."""
    if not isinstance(data, dict):
        raise _reject("Тело должно быть JSON-объектом.")
    event_key = _id(data.get("id"), "id")
    kind = data.get("type")
    if kind not in TYPES:
        raise _reject(f"type: неизвестный тип события {kind!r}; ожидается {' или '.join(TYPES)}.")
    order = data.get("order")
    if not isinstance(order, dict):
        raise _reject(f"order: нужен объект заказа, получено {_kind(order)}.")
    buyer = order.get("buyer", {})
    if buyer is None:
        buyer = {}
    if not isinstance(buyer, dict):
        raise _reject(f"order.buyer: нужен объект, получено {_kind(buyer)}.")
    tickets = order.get("tickets")
    if not isinstance(tickets, list) or not tickets:
        raise _reject("order.tickets: нужен непустой список билетов.")
    if len(tickets) > MAX_TICKET_ROWS:
        raise _reject(f"order.tickets: {len(tickets)} строк — больше {MAX_TICKET_ROWS}.")
    lines = [_ticket(item, f"order.tickets[{n}]") for n, item in enumerate(tickets)]
    if sum((line.price * line.quantity for line in lines), Decimal(0)) > MAX_MONEY:
        raise _reject("order.tickets: сумма заказа слишком большая.")
    return Sale(
        event_key=event_key, type=kind,
        order_id=_id(order.get("id"), "order.id", ID_MAX),
        event_id=_id(order.get("event_id"), "order.event_id", ID_MAX),
        created_at=_moment(order.get("created_at"), "order.created_at"),
        refunded_at=_when(order.get("refunded_at"), "order.refunded_at"),
        first_name=_text(buyer.get("name"), "order.buyer.name", cut=True),
        last_name=_text(buyer.get("last_name"), "order.buyer.last_name", cut=True),
        phone=_text(buyer.get("phone"), "order.buyer.phone", cut=False),
        email=_text(buyer.get("email"), "order.buyer.email", cut=False),
        tickets=lines,
        amount=_money(order.get("amount"), "order.amount"),
    )


# the Inbox copy -------------------------------------------------------------------------------
def sale_to_payload(sale: Sale) -> dict[str, Any]:
    """JSON-safe, for the Inbox; ``sale_from_payload`` reads it back unchanged."""
    return {
        "event_key": sale.event_key, "type": sale.type, "order_id": sale.order_id, "event_id": sale.event_id,
        "created_at": sale.created_at.isoformat(),
        "refunded_at": sale.refunded_at.isoformat() if sale.refunded_at else None,
        "first_name": sale.first_name, "last_name": sale.last_name, "phone": sale.phone, "email": sale.email,
        "tickets": [{"product_id": t.product_id, "name": t.name, "price": str(t.price), "quantity": t.quantity}
                    for t in sale.tickets],
        "amount": str(sale.amount),
    }


def sale_from_payload(payload: dict[str, Any]) -> Sale:
    """The Sale stored by ``sale_to_payload``; ValidationError for a row that is not one."""
    try:
        refunded_at = payload.get("refunded_at")
        return Sale(
            event_key=str(payload["event_key"]), type=str(payload["type"]), order_id=str(payload["order_id"]),
            event_id=str(payload["event_id"]), created_at=dt.datetime.fromisoformat(payload["created_at"]),
            refunded_at=dt.datetime.fromisoformat(refunded_at) if refunded_at else None,
            first_name=str(payload["first_name"]), last_name=str(payload["last_name"]),
            phone=str(payload["phone"]), email=str(payload["email"]),
            tickets=[Ticket(product_id=str(t["product_id"]), name=str(t["name"]), price=Decimal(t["price"]),
                            quantity=int(t["quantity"])) for t in payload["tickets"]],
            amount=Decimal(payload["amount"]),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
        raise _reject(f"Сохранённая продажа не читается: {type(exc).__name__}: {exc}") from exc
