"""SamoSale emulator, written from connectors/samosale/API.md only (SamoSale's real API is not
public, so that file is the contract and this is its executable form).

API under ``/api/v1`` (the client's base URL is ``<emulator url>/api/v1``), Bearer ``api_key``:
clients (find by phone, create), balance, purchase calculation, idempotent purchases and refunds,
manual bonuses, the operations ledger (oldest first). Every balance change is one operation and,
when a hub URL is set, one signed ``balance.changed`` webhook sent in the background.

Programme rules: earn ``earn_percent`` % of the money paid (``total - bonuses_used``, rounded down
to kopecks), bonuses cover at most ``max_share`` % of the check (rounded down), earned bonuses are
pending 0 days (``pending`` is always ``"0.00"`` and nothing is scheduled to burn, so ``expiring``
is empty; burns happen only through the knob).

Knobs (no auth): ``POST /_emulator/operate {phone, amount, comment?}`` — a cashier in the venue
changes a balance by hand ("manual" operation, ``external_id`` null); ``POST /_emulator/expire
{phone, amount?}`` — bonuses burn ("expire" operation; no amount: all available);
``POST /_emulator/faults {"webhook_url": "..."}`` — where webhooks go ("" stops them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

API = "/api/v1"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("1000000000")  # beyond this an amount is a client's bug, not a check
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
# Each entity counts from its own base, so a client id sent where a purchase id belongs (and so
# on) is a 404 here, not a silent hit on some other record.
ID_BASE = {"client": 1000, "purchase": 50000, "refund": 70000, "operation": 90000}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Handler = Callable[..., Response]


class ApiError(Exception):
    """An error answer in the contract's shape: ``{"error": {"code", "message"}, ...extra}``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> Response:
        return json_response({"error": {"code": self.code, "message": self.message}, **self.extra}, self.status)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "validation", message)


def _api(func: Handler) -> Handler:
    """An API call: the key is checked before anything else, errors become the contract's body."""
    @functools.wraps(func)
    def wrapper(self: SamosaleEmulator, request: Request, **kwargs: Any) -> Response:
        sent = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(sent, f"Bearer {self.api_key}".encode()):
            return ApiError(401, "unauthorized", "missing or wrong API key").response()
        try:
            return func(self, request, **kwargs)
        except ApiError as exc:
            return exc.response()
    return wrapper


def _knob(func: Handler) -> Handler:
    """An emulator knob: no auth, but the same error bodies as the API."""
    @functools.wraps(func)
    def wrapper(self: SamosaleEmulator, request: Request, **kwargs: Any) -> Response:
        try:
            return func(self, request, **kwargs)
        except ApiError as exc:
            return exc.response()
    return wrapper


# parsing ------------------------------------------------------------------------------------
def _money(value: Decimal) -> str:
    return str(value.quantize(CENT) + 0)  # "+ 0" turns a "-0.00" into "0.00"


def _body(request: Request) -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    return body


def _decimal(value: Any, field: str) -> Decimal:
    """An amount: a decimal string with at most 2 places (JSON numbers are tolerated)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _invalid(f"{field} must be a decimal string like \"120.00\"")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(f"{field} must be a decimal string like \"120.00\"") from None
    if not number.is_finite() or abs(number) >= MAX_AMOUNT or number != number.quantize(CENT):
        raise _invalid(f"{field} must be a finite amount with at most 2 decimal places")
    return number.quantize(CENT)


def _positive(body: dict[str, Any], field: str) -> Decimal:
    if body.get(field) is None:
        raise _invalid(f"{field} is required")
    number = _decimal(body[field], field)
    if number <= 0:
        raise _invalid(f"{field} must be positive")
    return number


def _external_id(body: dict[str, Any]) -> str:
    value = body.get("external_id")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise _invalid("external_id is required (a non-empty string)")
    return str(value)


def _id(value: Any) -> int | None:
    """An id from a path or a body; None when it cannot be one of ours (then it is "not found")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _phone(value: Any) -> str:
    """``+`` and digits. A raw ``?phone=+79…`` arrives with a space for the ``+``: digits decide."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _invalid("phone is required")
    digits = re.sub(r"\D", "", str(value))
    if not 10 <= len(digits) <= 15:
        raise _invalid("phone must have 10 to 15 digits, e.g. +79123456789")
    return "+" + digits


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items = body.get("items")
    if not isinstance(items, list):
        raise _invalid("items must be a list of {sku, name, price, qty, category?}")
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise _invalid(f"items[{n}] must be an object")
        if not isinstance(item.get("sku"), str | int) or isinstance(item.get("sku"), bool) or item["sku"] == "":
            raise _invalid(f"items[{n}].sku is required")
        if not isinstance(item.get("name"), str):
            raise _invalid(f"items[{n}].name is required")
        if item.get("price") is None or _decimal(item["price"], f"items[{n}].price") < 0:
            raise _invalid(f"items[{n}].price must be a non-negative amount")
        qty = item.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int | float | str):
            raise _invalid(f"items[{n}].qty must be a positive number")
        try:
            quantity = Decimal(str(qty))
        except InvalidOperation:
            raise _invalid(f"items[{n}].qty must be a positive number") from None
        if not quantity.is_finite() or quantity <= 0:
            raise _invalid(f"items[{n}].qty must be a positive number")
        if item.get("category") is not None and not isinstance(item["category"], str):
            raise _invalid(f"items[{n}].category must be a string")
    return items


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SamosaleEmulator(Emulator):
    name = "samosale"
    default_rate_limit = 10  # API.md: 10 requests/s per key (there is one key here)

    def __init__(self, *, rate_limit: float | None = None, api_key: str | None = None,
                 webhook_secret: str | None = None, hub_webhook_url: str = "",
                 earn_percent: float | str | Decimal = 5, max_share: float | str | Decimal = 50) -> None:
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.webhook_secret = webhook_secret or secrets.token_urlsafe(24)
        self.hub_webhook_url = hub_webhook_url
        self.earn_percent = Decimal(str(earn_percent))
        self.max_share = Decimal(str(max_share))
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [
            Rule(f"{API}/clients", endpoint="find_client", methods=["GET"]),
            Rule(f"{API}/clients", endpoint="create_client", methods=["POST"]),
            Rule(f"{API}/clients/<client_id>/balance", endpoint="balance", methods=["GET"]),
            Rule(f"{API}/clients/<client_id>/bonuses", endpoint="change_bonuses", methods=["POST"]),
            Rule(f"{API}/clients/<client_id>/operations", endpoint="list_operations", methods=["GET"]),
            Rule(f"{API}/purchases/calculate", endpoint="calculate", methods=["POST"]),
            Rule(f"{API}/purchases", endpoint="create_purchase", methods=["POST"]),
            Rule(f"{API}/purchases/<purchase_id>/refund", endpoint="refund", methods=["POST"]),
            Rule("/_emulator/operate", endpoint="operate", methods=["POST"]),
            Rule("/_emulator/expire", endpoint="expire", methods=["POST"]),
        ]

    def reset(self) -> None:
        self.clients: dict[int, dict[str, Any]] = {}
        self.available: dict[int, Decimal] = {}
        self.purchases: dict[int, dict[str, Any]] = {}
        self.purchase_by_external: dict[str, int] = {}
        self.refunds: dict[int, dict[str, Any]] = {}
        self.refund_by_external: dict[str, int] = {}
        self.operations: list[dict[str, Any]] = []  # the ledger, oldest first
        self.manual_by_external: dict[str, dict[str, Any]] = {}
        self.webhook_deliveries = 0  # queued ones; the base's ``deliveries`` holds their threads
        self.sequences = dict(ID_BASE)

    def credentials(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "webhook_secret": self.webhook_secret,
                "webhook_url": self.hub_webhook_url}

    def entities(self) -> dict[str, Any]:
        return {
            "clients": [{**self._client_view(c), "pending": _money(ZERO), "birthdate": c["birthdate"],
                         "email": c["email"], "created_at": c["created_at"]} for c in self.clients.values()],
            "purchases": [{**self._purchase_view(p), "items": p["items"], "refunded": _money(p["refunded"])}
                          for p in self.purchases.values()],
            "refunds": [{**self._refund_view(r), "external_id": r["external_id"], "created_at": r["created_at"]}
                        for r in self.refunds.values()],
            "operations": [{**self._operation_view(op), "client_id": op["client_id"]} for op in self.operations],
            "webhook_deliveries": self.webhook_deliveries,
        }

    def control(self, spec: dict[str, Any]) -> None:
        if "webhook_url" in spec:
            self.hub_webhook_url = str(spec["webhook_url"] or "")

    # views ------------------------------------------------------------------------------------
    def _client_view(self, client: dict[str, Any]) -> dict[str, Any]:
        return {"id": client["id"], "phone": client["phone"], "name": client["name"],
                "balance": _money(self.available[client["id"]])}

    @staticmethod
    def _purchase_view(p: dict[str, Any]) -> dict[str, Any]:
        return {"id": p["id"], "external_id": p["external_id"], "client_id": p["client_id"],
                "total": _money(p["total"]), "bonuses_used": _money(p["bonuses_used"]),
                "bonuses_earned": _money(p["bonuses_earned"]), "status": p["status"],
                "created_at": p["created_at"]}

    @staticmethod
    def _refund_view(r: dict[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "purchase_id": r["purchase_id"], "amount": _money(r["amount"]),
                "bonuses_returned": _money(r["bonuses_returned"]),
                "bonuses_cancelled": _money(r["bonuses_cancelled"])}

    @staticmethod
    def _operation_view(op: dict[str, Any]) -> dict[str, Any]:
        return {"id": op["id"], "type": op["type"], "amount": _money(op["amount"]), "comment": op["comment"],
                "external_id": op["external_id"], "purchase_id": op["purchase_id"],
                "created_at": op["created_at"]}

    # the ledger ---------------------------------------------------------------------------------
    def _next_id(self, kind: str) -> int:
        self.sequences[kind] += 1
        return self.sequences[kind]

    def _client(self, raw: Any) -> dict[str, Any]:
        key = _id(raw)
        client = None if key is None else self.clients.get(key)
        if client is None:
            raise ApiError(404, "client_not_found", f"no client {raw}")
        return client

    def _client_by_phone(self, phone: str) -> dict[str, Any] | None:
        return next((c for c in self.clients.values() if c["phone"] == phone), None)

    def _write(self, client_id: int, kind: str, amount: Decimal, comment: str, *,
               external_id: str | None = None, purchase_id: int | None = None) -> dict[str, Any]:
        """One balance change: the ledger row, the new balance, the webhook about it."""
        self.available[client_id] += amount
        op = {"id": self._next_id("operation"), "client_id": client_id, "type": kind, "amount": amount,
              "comment": comment, "external_id": external_id, "purchase_id": purchase_id, "created_at": _now()}
        self.operations.append(op)
        self._notify(op)
        return op

    def _notify(self, op: dict[str, Any]) -> None:
        """One webhook per operation, carrying the balance right after it (a running balance)."""
        if not self.hub_webhook_url:
            return
        client = self.clients[op["client_id"]]
        body = json.dumps({"event_id": f"evt_{secrets.token_hex(12)}", "event": "balance.changed",
                           "client_id": client["id"], "phone": client["phone"],
                           "balance": {"available": _money(self.available[client["id"]]), "pending": _money(ZERO)},
                           "operation_id": op["id"], "occurred_at": op["created_at"]})  # ASCII: bytes == str
        self.deliver_later(self.hub_webhook_url, body, {"Content-Type": "application/json",
                                                         "X-Samosale-Signature": _sign(self.webhook_secret,
                                                                                       body.encode())})
        self.webhook_deliveries += 1

    def _quote(self, client_id: int, total: Decimal, to_use: Decimal) -> dict[str, Decimal]:
        """The calculation shared by /purchases/calculate and /purchases."""
        cap = (total * self.max_share / 100).quantize(CENT, ROUND_DOWN)
        max_bonuses = min(self.available[client_id], cap)
        if to_use > max_bonuses:
            raise ApiError(422, "insufficient_bonuses",
                           f"at most {_money(max_bonuses)} bonuses can be used on this check")
        earn = ((total - to_use) * self.earn_percent / 100).quantize(CENT, ROUND_DOWN)
        return {"total": total, "max_bonuses": max_bonuses, "bonuses_to_use": to_use,
                "bonuses_to_earn": earn, "to_pay": total - to_use}

    # clients ----------------------------------------------------------------------------------
    @_api
    def find_client(self, request: Request) -> Response:
        phone = _phone(request.args.get("phone", ""))
        with self.lock:
            client = self._client_by_phone(phone)
            if client is None:
                raise ApiError(404, "client_not_found", f"no client with phone {phone}")
            return json_response({"client": self._client_view(client)})

    @_api
    def create_client(self, request: Request) -> Response:
        body = _body(request)
        phone = _phone(body.get("phone"))
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise _invalid("name must be a string")
        birthdate = body.get("birthdate")
        if birthdate is not None:
            try:
                if not isinstance(birthdate, str) or not DATE_RE.match(birthdate):
                    raise ValueError(birthdate)
                dt.date.fromisoformat(birthdate)
            except ValueError:
                raise _invalid("birthdate must be a date YYYY-MM-DD") from None
        email = body.get("email")
        if email is not None and (not isinstance(email, str) or not EMAIL_RE.match(email)):
            raise _invalid("email is not an e-mail address")
        with self.lock:
            existing = self._client_by_phone(phone)
            if existing is not None:
                raise ApiError(409, "duplicate_phone", f"a client with phone {phone} exists",
                               client=self._client_view(existing))
            client = {"id": self._next_id("client"), "phone": phone, "name": name or "",
                      "birthdate": birthdate, "email": email, "created_at": _now()}
            self.clients[client["id"]] = client
            self.available[client["id"]] = ZERO
            return json_response({"client": self._client_view(client)}, 201)

    @_api
    def balance(self, request: Request, client_id: str) -> Response:
        with self.lock:
            client = self._client(client_id)
            return json_response({"available": _money(self.available[client["id"]]), "pending": _money(ZERO),
                                  "expiring": []})

    @_api
    def change_bonuses(self, request: Request, client_id: str) -> Response:
        body = _body(request)
        external_id = _external_id(body)
        if body.get("amount") is None:
            raise _invalid("amount is required")
        amount = _decimal(body["amount"], "amount")
        if amount == 0:
            raise _invalid("amount must not be zero")
        comment = body.get("comment")
        if not isinstance(comment, str):
            raise _invalid("comment is required (a string)")
        with self.lock:
            done = self.manual_by_external.get(external_id)
            if done is not None:
                if done["client_id"] != _id(client_id) or done["amount"] != amount:
                    raise ApiError(409, "conflict", f"external_id {external_id} was used for another operation")
                return json_response({"operation": self._operation_view(done)})
            client = self._client(client_id)
            if amount < 0 and -amount > self.available[client["id"]]:
                raise ApiError(422, "insufficient_bonuses",
                               f"only {_money(self.available[client['id']])} bonuses are available")
            op = self._write(client["id"], "manual", amount, comment, external_id=external_id)
            self.manual_by_external[external_id] = op
            return json_response({"operation": self._operation_view(op)}, 201)

    @_api
    def list_operations(self, request: Request, client_id: str) -> Response:
        try:
            limit = int(request.args.get("limit", DEFAULT_LIMIT))
            offset = int(request.args.get("offset", 0))
        except ValueError:
            raise _invalid("limit and offset must be integers") from None
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise _invalid(f"limit must be 1..{MAX_LIMIT} and offset not negative")
        with self.lock:
            client = self._client(client_id)
            mine = [op for op in self.operations if op["client_id"] == client["id"]]
            return json_response({"items": [self._operation_view(op) for op in mine[offset:offset + limit]],
                                  "total": len(mine)})

    # purchases --------------------------------------------------------------------------------
    @_api
    def calculate(self, request: Request) -> Response:
        body = _body(request)
        total = _positive(body, "total")
        _items(body)
        to_use = ZERO if body.get("bonuses_to_use") is None else _decimal(body["bonuses_to_use"], "bonuses_to_use")
        if to_use < 0:
            raise _invalid("bonuses_to_use must not be negative")
        with self.lock:
            client = self._client(body.get("client_id"))
            quote = self._quote(client["id"], total, to_use)
            return json_response({k: _money(v) for k, v in quote.items()})

    @_api
    def create_purchase(self, request: Request) -> Response:
        body = _body(request)
        external_id = _external_id(body)
        total = _positive(body, "total")
        items = _items(body)
        if body.get("bonuses_to_use") is None:
            raise _invalid("bonuses_to_use is required (\"0.00\" to use none)")
        to_use = _decimal(body["bonuses_to_use"], "bonuses_to_use")
        if to_use < 0:
            raise _invalid("bonuses_to_use must not be negative")
        with self.lock:
            known = self.purchase_by_external.get(external_id)
            if known is not None:  # a retry: the purchase as it is now, unless the key is reused
                purchase = self.purchases[known]
                if purchase["client_id"] != _id(body.get("client_id")) or purchase["total"] != total:
                    raise ApiError(409, "conflict", f"external_id {external_id} belongs to another purchase")
                return json_response({"purchase": self._purchase_view(purchase)})
            client = self._client(body.get("client_id"))
            quote = self._quote(client["id"], total, to_use)
            purchase = {"id": self._next_id("purchase"), "external_id": external_id, "client_id": client["id"],
                        "total": total, "bonuses_used": to_use, "bonuses_earned": quote["bonuses_to_earn"],
                        "status": "confirmed", "created_at": _now(), "items": items,
                        "refunded": ZERO, "returned": ZERO, "cancel_due": ZERO}
            self.purchases[purchase["id"]] = purchase
            self.purchase_by_external[external_id] = purchase["id"]
            if to_use > 0:
                self._write(client["id"], "redeem", -to_use, f"Bonuses paid for purchase {external_id}",
                            external_id=external_id, purchase_id=purchase["id"])
            if purchase["bonuses_earned"] > 0:  # a zero "earn" row would be noise in the history
                self._write(client["id"], "earn", purchase["bonuses_earned"],
                            f"Bonuses earned for purchase {external_id}",
                            external_id=external_id, purchase_id=purchase["id"])
            return json_response({"purchase": self._purchase_view(purchase)}, 201)

    @_api
    def refund(self, request: Request, purchase_id: str) -> Response:
        body = _body(request)
        external_id = _external_id(body)
        amount = None if body.get("amount") is None else _positive(body, "amount")
        with self.lock:
            key = _id(purchase_id)
            purchase = None if key is None else self.purchases.get(key)
            if purchase is None:
                raise ApiError(404, "purchase_not_found", f"no purchase {purchase_id}")
            known = self.refund_by_external.get(external_id)
            if known is not None:  # a retry; with no amount it cannot differ from the first call
                done = self.refunds[known]
                if done["purchase_id"] != purchase["id"] or (amount is not None and amount != done["amount"]):
                    raise ApiError(409, "conflict", f"external_id {external_id} belongs to another refund")
                return json_response({"refund": self._refund_view(done)})
            left = purchase["total"] - purchase["refunded"]
            amount = left if amount is None else amount
            if left <= 0:
                raise _invalid("the purchase is fully refunded already")
            if amount > left:
                raise _invalid(f"only {_money(left)} of the purchase is left to refund")
            return json_response({"refund": self._refund_view(self._apply_refund(purchase, external_id, amount))},
                                 201)

    def _apply_refund(self, purchase: dict[str, Any], external_id: str, amount: Decimal) -> dict[str, Any]:
        """Bonuses follow the refunded share of the check. Shares are taken of the running total
        refunded, so the parts of several partial refunds add up to exactly the purchase's figures."""
        refunded = purchase["refunded"] + amount
        whole = refunded == purchase["total"]
        share = refunded / purchase["total"]
        returned_due = purchase["bonuses_used"] if whole else \
            (purchase["bonuses_used"] * share).quantize(CENT, ROUND_HALF_UP)
        cancel_due = purchase["bonuses_earned"] if whole else \
            (purchase["bonuses_earned"] * share).quantize(CENT, ROUND_HALF_UP)
        client_id = purchase["client_id"]
        returned = returned_due - purchase["returned"]
        if returned > 0:
            self._write(client_id, "refund", returned, f"Bonuses returned by refund {external_id}",
                        external_id=external_id, purchase_id=purchase["id"])
        # The earned bonuses may be spent already, and a balance never goes below 0: cancel at
        # most what is available (after the return above) and forgive the rest for good — later
        # refunds of this purchase cancel only their own share, not this shortfall.
        cancelled = max(ZERO, min(cancel_due - purchase["cancel_due"], self.available[client_id]))
        if cancelled > 0:
            self._write(client_id, "refund", -cancelled, f"Earned bonuses cancelled by refund {external_id}",
                        external_id=external_id, purchase_id=purchase["id"])
        purchase.update(refunded=refunded, returned=returned_due, cancel_due=cancel_due,
                        status="refunded" if whole else "partially_refunded")
        refund = {"id": self._next_id("refund"), "external_id": external_id, "purchase_id": purchase["id"],
                  "amount": amount, "bonuses_returned": returned, "bonuses_cancelled": cancelled,
                  "created_at": _now()}
        self.refunds[refund["id"]] = refund
        self.refund_by_external[external_id] = refund["id"]
        return refund

    # knobs --------------------------------------------------------------------------------------
    def _knob_client(self, body: dict[str, Any]) -> dict[str, Any]:
        phone = _phone(body.get("phone"))
        client = self._client_by_phone(phone)
        if client is None:
            raise ApiError(404, "client_not_found", f"no client with phone {phone}")
        return client

    @_knob
    def operate(self, request: Request) -> Response:
        """A cashier in the venue adds or deducts bonuses by hand (no idempotency key)."""
        body = _body(request)
        if body.get("amount") is None:
            raise _invalid("amount is required")
        amount = _decimal(body["amount"], "amount")
        if amount == 0:
            raise _invalid("amount must not be zero")
        comment = str(body.get("comment") or "Changed by a cashier in the venue")
        with self.lock:
            client = self._knob_client(body)
            if -amount > self.available[client["id"]]:
                raise ApiError(422, "insufficient_bonuses",
                               f"only {_money(self.available[client['id']])} bonuses are available")
            op = self._write(client["id"], "manual", amount, comment)
            return json_response({"operation": self._operation_view(op), "client": self._client_view(client)}, 201)

    @_knob
    def expire(self, request: Request) -> Response:
        """Bonuses burn (no amount: all that is available)."""
        body = _body(request)
        with self.lock:
            client = self._knob_client(body)
            available = self.available[client["id"]]
            amount = available if body.get("amount") is None else _positive(body, "amount")
            if amount <= 0:
                raise _invalid("the client has no bonuses to expire")
            if amount > available:
                raise ApiError(422, "insufficient_bonuses", f"only {_money(available)} bonuses are available")
            op = self._write(client["id"], "expire", -amount, "Bonuses expired")
            return json_response({"operation": self._operation_view(op), "client": self._client_view(client)}, 201)


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub-webhook-url", default="")
        parser.add_argument("--api-key", default=None)
        parser.add_argument("--webhook-secret", default=None)
        parser.add_argument("--earn-percent", default="5")
        parser.add_argument("--max-share", default="50")

    run_cli(lambda a: SamosaleEmulator(rate_limit=a.rate_limit, api_key=a.api_key, webhook_secret=a.webhook_secret,
                                       hub_webhook_url=a.hub_webhook_url, earn_percent=a.earn_percent,
                                       max_share=a.max_share),
            "SamoSale bonus programme emulator (API.md)", add_arguments)


if __name__ == "__main__":
    main()
