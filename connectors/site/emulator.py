"""Emulator of the organiser's site endpoint, written from PROTOCOL.md (not from the client):
signed ``/ping``, ``PUT /templates/<xml_id>``, ``PUT /events/<xml_id>``; and, as the site's
shop, signed ``order.paid`` / ``order.refunded`` webhooks posted to the hub on request.

Knobs (``POST /_emulator/faults``): the base faults (``{"status": 503, "times": 1000}``;
``count`` is taken as a synonym of ``times``), ``hub_url`` (where sales are posted),
``max_body`` (bytes before 413), ``retry_pause`` (seconds before the first retry of a sale
delivery, doubled each time; 0 retries at once). ``POST /_emulator/sell`` makes a sale now.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

DEFAULT_SECRET = "demo-site-secret"  # noqa: S105 - the sandbox demo's, not a real one
MAX_BODY = 10 * 1024 * 1024
MAX_SKEW = 300
TEXT_MAX = 255
DELIVERY_RETRIES = 5  # after the first try, as the site retries a non-2xx answer (or none)
SITE_ZONE = ZoneInfo("Europe/Moscow")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
TEMPLATE_KEYS = frozenset({"title", "description_html", "image"})
EVENT_KEYS = frozenset({"template_id", "title", "starts_at", "speaker", "host"})


class Refused(Exception):
    """A request the site answers with ``status`` and ``{"error": reason}``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def picture_type(data: bytes) -> str | None:
    """The picture's type by its magic bytes, as the site's upload check does (not by the
    name or the declared type)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _sign(secret: str, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class SiteEmulator(Emulator):
    name = "site"

    def __init__(self, *, rate_limit: float | None = None, secret: str | None = None, hub_url: str = "",
                 site_name: str = "Демо-сайт организатора", max_body: int = MAX_BODY,
                 retry_pause: float = 0.0) -> None:
        self.secret = secret or DEFAULT_SECRET
        self.hub_url = hub_url
        self.site_name = site_name
        self.max_body = max_body
        self.retry_pause = retry_pause
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [
            Rule("/ping", endpoint="ping", methods=["GET"]),
            Rule("/templates/<xml_id>", endpoint="put_template", methods=["PUT"]),
            Rule("/events/<xml_id>", endpoint="put_event", methods=["PUT"]),
            Rule("/_emulator/sell", endpoint="sell", methods=["POST"]),
        ]

    def reset(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}  # XML_ID → template (image summary only)
        self.images: dict[str, bytes] = {}  # XML_ID → the template's picture
        self.events: dict[str, dict[str, Any]] = {}  # XML_ID → calendar event
        self.last_element_id = 0  # one counter for both infoblocks, as Bitrix element ids are
        self.orders: dict[str, dict[str, Any]] = {}  # order id → the order as last sent
        self.sent_sales: list[dict[str, Any]] = []
        self.next_order = int(time.time())  # auto order numbers stay new across restarts

    def credentials(self) -> dict[str, Any]:
        return {"secret": self.secret}

    def entities(self) -> dict[str, Any]:
        return {"templates": sorted((dict(t) for t in self.templates.values()), key=_by_id),
                "events": sorted(({**e, "history": list(e["history"])} for e in self.events.values()), key=_by_id),
                "orders": list(self.orders.values()), "sent_sales": list(self.sent_sales),
                "hub_url": self.hub_url, "max_body": self.max_body, "site": self.site_name}

    def control(self, spec: dict[str, Any]) -> None:
        """A bad value is ignored rather than breaking the emulator (the base has answered)."""
        if "hub_url" in spec:
            self.hub_url = str(spec["hub_url"] or "")
        try:
            if "max_body" in spec:
                self.max_body = int(spec["max_body"])
            if "retry_pause" in spec:
                self.retry_pause = max(0.0, float(spec["retry_pause"]))
        except (TypeError, ValueError):
            pass

    # the protocol -------------------------------------------------------------------------------
    def _accept(self, request: Request) -> bytes:
        """The body, after the size limit and the signature; Refused otherwise."""
        chunks, size = [], 0
        while chunk := request.stream.read(65536):  # read it all: the client must get our answer
            size += len(chunk)
            if size <= self.max_body:
                chunks.append(chunk)
        if size > self.max_body:
            raise Refused(413, f"request body is over the site's limit of {self.max_body} bytes")
        body = b"".join(chunks)
        timestamp = (request.headers.get("X-Hub-Timestamp") or "").strip()
        signature = (request.headers.get("X-Hub-Signature") or "").strip()
        if not timestamp:
            raise Refused(401, "missing X-Hub-Timestamp")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise Refused(401, "X-Hub-Timestamp is not unix seconds")
        if abs(int(timestamp) - time.time()) > MAX_SKEW:
            raise Refused(401, f"X-Hub-Timestamp is more than {MAX_SKEW} s away from the site's clock")
        if not signature:
            raise Refused(401, "missing X-Hub-Signature")
        if not hmac.compare_digest(_sign(self.secret, int(timestamp), body).encode(), signature.encode()):
            raise Refused(401, "signature does not match")
        return body

    def _json_object(self, body: bytes, allowed: frozenset[str]) -> dict[str, Any]:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refused(400, f"malformed JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise Refused(400, "body must be a JSON object")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise Refused(400, f"unknown fields: {', '.join(unknown)}")
        return data

    def _serve(self, request: Request, handler: Any, *args: Any) -> Response:
        try:
            return json_response(handler(request, *args))
        except Refused as exc:
            return json_response({"error": exc.reason}, exc.status)

    def ping(self, request: Request) -> Response:
        return self._serve(request, self._ping)

    def put_template(self, request: Request, xml_id: str) -> Response:
        return self._serve(request, self._template, xml_id)

    def put_event(self, request: Request, xml_id: str) -> Response:
        return self._serve(request, self._event, xml_id)

    def _ping(self, request: Request) -> dict[str, Any]:
        self._accept(request)
        return {"ok": True, "site": self.site_name}

    def _new_id(self) -> str:
        self.last_element_id += 1
        return str(self.last_element_id)

    def _template(self, request: Request, xml_id: str) -> dict[str, Any]:
        data = self._json_object(self._accept(request), TEMPLATE_KEYS)
        _check_xml_id(xml_id)
        changes: dict[str, Any] = {}
        for key in ("title", "description_html"):
            if key in data:
                changes[key] = _string(data[key], key, limit=TEXT_MAX if key == "title" else None)
        picture: bytes | None = None
        if "image" in data:
            picture, changes["image"] = _image(data["image"])
        with self.lock:
            template = self.templates.get(xml_id)
            created = template is None
            if template is None:
                template = {"xml_id": xml_id, "id": self._new_id(), "title": "", "description_html": "",
                            "image": None, "updated": 0}
                self.templates[xml_id] = template
            template.update(changes)
            template["updated"] += 1
            if "image" in changes:
                if picture is None:
                    self.images.pop(xml_id, None)
                else:
                    self.images[xml_id] = picture
            return {"id": template["id"], "created": created}

    def _event(self, request: Request, xml_id: str) -> dict[str, Any]:
        data = self._json_object(self._accept(request), EVENT_KEYS)
        _check_xml_id(xml_id)
        values: dict[str, Any] = {}
        for key in ("template_id", "title", "speaker", "host"):
            if key in data:
                values[key] = _string(data[key], key, limit=TEXT_MAX)
        if "starts_at" in data:
            values["starts_at"] = _moment(data["starts_at"])
        with self.lock:
            event = self.events.get(xml_id)
            if event is None and not values.get("template_id"):
                raise Refused(422, "template_id is required to create an event")
            if "template_id" in values and not any(t["id"] == values["template_id"]
                                                   for t in self.templates.values()):
                raise Refused(422, f"template_id {values['template_id']!r} is not a template")
            created = event is None
            if event is None:
                event = {"xml_id": xml_id, "id": self._new_id(), "template_id": None, "title": None,
                         "starts_at": None, "speaker": None, "host": None, "updated": 0, "history": []}
                self.events[xml_id] = event
            changed = {key: value for key, value in values.items() if created or event[key] != value}
            event.update(values)
            event["updated"] += 1
            event["history"].append(changed)
            return {"id": event["id"], "created": created}

    # the shop: sales reported to the hub ---------------------------------------------------------
    def sell(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        url = str(spec.get("hub_url") or self.hub_url)
        if not url:
            return json_response({"error": "no hub_url configured (POST /_emulator/faults {\"hub_url\": ...})"}, 400)
        try:
            with self.lock:
                hook = self._refund(spec) if spec.get("refund") else self._order(spec)
        except Refused as exc:
            return json_response({"error": exc.reason}, exc.status)
        body = json.dumps(hook, ensure_ascii=False).encode()
        attempts: list[dict[str, Any]] = []
        for attempt in range(DELIVERY_RETRIES + 1):
            if attempt and self.retry_pause:
                time.sleep(self.retry_pause * 2 ** (attempt - 1))  # the site's growing pauses (CLI)
            timestamp = int(time.time())
            status, text = self.post_now(url, body, {
                "Content-Type": "application/json; charset=utf-8", "X-Hub-Timestamp": str(timestamp),
                "X-Hub-Signature": _sign(self.secret, timestamp, body)}, timeout=10)
            attempts.append({"status": status, "body": text[:300]})
            if status is not None and 200 <= status < 300:
                break
        record = {"event_id": hook["id"], "type": hook["type"], "order_id": hook["order"]["id"], "body": hook,
                  "hub_status": status, "hub_body": text[:500], "attempts": attempts}
        with self.lock:
            self.sent_sales.append(record)
        delivered = status is not None and 200 <= status < 300
        return json_response(record, 200 if delivered else 502)

    def _order(self, spec: dict[str, Any]) -> dict[str, Any]:
        event_id = spec.get("event_id")
        if isinstance(event_id, bool) or not isinstance(event_id, str | int) or not str(event_id):
            raise Refused(400, "event_id is required")
        tickets = spec.get("tickets")
        if not isinstance(tickets, list) or not tickets:
            raise Refused(400, "tickets must be a non-empty list")
        lines = [_ticket(item) for item in tickets]
        buyer = spec.get("buyer") or {}
        if not isinstance(buyer, dict):
            raise Refused(400, "buyer must be an object")
        if spec.get("order_id"):
            order_id = str(spec["order_id"])
        else:
            self.next_order += 1
            order_id = str(self.next_order)
        if order_id in self.orders:
            raise Refused(400, f"order {order_id} already exists")
        total = sum((Decimal(t["price"]) * t["quantity"] for t in lines), Decimal("0"))
        order = {"id": order_id, "event_id": str(event_id),
                 "created_at": spec.get("created_at") or _now(),
                 "refunded_at": None,
                 "buyer": {key: str(buyer.get(key) or "") for key in ("name", "last_name", "phone", "email")},
                 "tickets": lines, "amount": str(spec.get("amount") or f"{total:.2f}")}
        self.orders[order_id] = order
        return {"id": uuid.uuid4().hex, "type": "order.paid", "order": order}

    def _refund(self, spec: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(spec.get("order_id") or ""))
        if order is None:
            raise Refused(400, "refund needs the order_id of an order sold here")
        if order["refunded_at"]:
            raise Refused(400, f"order {order['id']} is already refunded")
        order["refunded_at"] = spec.get("refunded_at") or _now()
        return {"id": uuid.uuid4().hex, "type": "order.refunded", "order": json.loads(json.dumps(order))}


# field checks ---------------------------------------------------------------------------------
def _by_id(item: dict[str, Any]) -> int:
    return int(item["id"])


def _check_xml_id(xml_id: str) -> None:
    if not xml_id.strip() or len(xml_id) > TEXT_MAX:
        raise Refused(400, f"XML_ID must be 1..{TEXT_MAX} characters")


def _string(value: Any, key: str, *, limit: int | None) -> str:
    if not isinstance(value, str):
        raise Refused(400, f"{key} must be a string")
    if limit is not None and len(value) > limit:
        raise Refused(400, f"{key} is longer than {limit} characters")
    return value


def _moment(value: Any) -> str | None:
    """ISO 8601 with an offset, kept as sent; null clears the date."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Refused(400, "starts_at must be an ISO 8601 string or null")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise Refused(400, f"starts_at is not ISO 8601: {value!r}") from exc
    if when.utcoffset() is None:
        raise Refused(400, f"starts_at has no UTC offset: {value!r}")
    return value


def _image(value: Any) -> tuple[bytes | None, dict[str, Any] | None]:
    """(the picture, its summary for the state); (None, None) removes it."""
    if value is None:
        return None, None
    if not isinstance(value, dict) or set(value) != {"name", "content_type", "data"}:
        raise Refused(400, "image must be null or {name, content_type, data}")
    name = _string(value["name"], "image.name", limit=TEXT_MAX)
    content_type = _string(value["content_type"], "image.content_type", limit=TEXT_MAX)
    encoded = _string(value["data"], "image.data", limit=None)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused(400, "image.data is not base64") from exc
    if content_type not in IMAGE_TYPES:
        raise Refused(422, f"image type {content_type!r} is not one of {', '.join(IMAGE_TYPES)}")
    actual = picture_type(data)
    if actual is None:
        raise Refused(422, "image.data is not a JPEG, PNG, WebP or GIF picture")
    if actual != content_type:
        raise Refused(422, f"image.data is {actual}, not {content_type}")
    return data, {"name": name, "content_type": content_type, "size": len(data),
                  "sha256": hashlib.sha256(data).hexdigest()}


def _ticket(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise Refused(400, "each ticket is an object")
    try:
        price = Decimal(str(item.get("price", "0")))
        quantity = int(item.get("quantity", 1))
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise Refused(400, f"bad ticket price or quantity: {exc}") from exc
    if not price.is_finite() or price < 0 or quantity <= 0:
        raise Refused(400, "a ticket needs a price >= 0 and a quantity > 0")
    return {"product_id": str(item.get("product_id") or "1"), "name": str(item.get("name") or "Билет"),
            "price": f"{price:.2f}", "quantity": quantity}


def _now() -> str:
    return dt.datetime.now(SITE_ZONE).isoformat(timespec="seconds")


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--secret", default=DEFAULT_SECRET)
        parser.add_argument("--hub-url", default="", help="the hub's webhook URL for sales")
        parser.add_argument("--site-name", default="Демо-сайт организатора")
        parser.add_argument("--max-body", type=int, default=MAX_BODY, help="bytes before 413")
        parser.add_argument("--retry-pause", type=float, default=1.0,
                            help="seconds before the first retry of a sale delivery (doubled each time)")

    run_cli(lambda a: SiteEmulator(rate_limit=a.rate_limit, secret=a.secret, hub_url=a.hub_url,
                                   site_name=a.site_name, max_body=a.max_body, retry_pause=a.retry_pause),
            "1C-Bitrix site endpoint emulator", add_arguments)


if __name__ == "__main__":
    main()
