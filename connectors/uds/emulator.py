"""UDS partner API v2 emulator, written from the public API description (not from our client).

Sources: contracts/bonus-programs.md (UDS); the public OpenAPI of docs.uds.app (mirrored in
github olshanskiyvv/async_uds_api ``openapi/openapi.yaml``); the shapes the public SDK
github sushi-market/laravel-uds-sdk sends and parses (``src/Uds.php``, ``src/Resources/*``,
the fixtures of ``src/Services/HttpClientFake.php``).

Confirmed there: base ``/partner/v2``; Basic auth ``companyId:apiKey`` (401 ``unauthorized``);
``X-Origin-Request-Id`` echoed back with new ``X-Request-Id``/``X-Timestamp``; errors
``{"errorCode", "message"}`` (+ ``errors[]`` for ``badRequest``) with the purchase codes
``invalidChecksum`` (cash + points ≠ total), ``insufficientFunds`` (points > balance),
``discountLimitExceed`` (points over the tier's ``maxScoresDiscount`` %), ``withdrawNotPermitted``
(redeeming by ``participant.uid``), ``purchaseByPhoneDisabled``; customer by ``code`` (top level,
6 digits, 45 min, spent by a purchase), ``participant.uid`` or ``participant.phone`` (E.164, in a
query ``+`` must come as ``%2B``); ``exchangeCode`` gives a 24 h code; a purchase's ``points`` is
minus the redeemed points (cashback is not in it); a refund is a new operation ``action: PURCHASE,
state: REVERSAL, origin: {id}`` with negative ``total``/``cash`` and the returned points;
``/operations/reward`` answers 202 ``{"accepted": N}`` (negative points deduct, no idempotency key,
no separate revoke call); ``GET /operations`` takes ``max`` (default 10, ≤ 50), ``offset``
(deprecated, ≤ 10000) or ``cursor`` and has answered ``total: 0`` since 2021-07; money has two
decimals (half up), points are rounded down; purchases with an unregistered phone are allowed
(the cashback waits for the phone to join).

Assumed (not in the sources): rewards appear in ``GET /operations`` as ``action: "REWARD"`` with
their ``comment``; a repeated ``nonce`` returns the first operation unchanged; history is newest
first; a refund takes back the cashback pro rata (never below a zero balance) and leaves the
original ``NORMAL``; a reward deduction larger than the balance is dropped (not counted in
``accepted``); the tier is upgraded (never downgraded) when ``cashSpent`` reaches its target; a
missing ``X-Origin-Request-Id`` is rejected (the docs call it both "required" and "may be omitted";
the knob ``require_request_id`` relaxes it).

Knobs (no auth): ``POST /_emulator/customers {phone, name, points?, tier?}`` (a customer joins via
the UDS app), ``POST /_emulator/code {phone}`` (the customer opens their payment code),
``POST /_emulator/operate {phone, points, comment?, total?}`` (a cashier in the venue: with
``total`` a purchase redeeming ``points``, else a manual accrual/deduction), and on
``POST /_emulator/faults``: ``{"settings": {"purchaseByPhone": false, "usePointsByPhone": false}}``,
``{"require_request_id": false}``, ``{"expire_codes": true}``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import functools
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

PREFIX = "/partner/v2"
DEFAULT_MAX, MAX_MAX, MAX_OFFSET = 10, 50, 10000  # GET /operations, /customers (docs.uds.app)
CODE_TTL = 45 * 60  # payment code from the app: 45 minutes (docs.uds.app FAQ)
LONG_CODE_TTL = 24 * 3600  # exchangeCode=true: 24 hours
CENT = Decimal("0.01")
ZERO = Decimal(0)
PHONE = re.compile(r"^\+\d{10,15}$")
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]+$")
BRANCH = {"id": 1, "displayName": "Основной филиал"}
VENUE_CASHIER = {"id": 1, "displayName": "Кассир (UDS Кассир)"}
TIERS = [  # base first, then by cashSpent target; the rank is the index
    {"uid": "base", "name": "Базовый", "rate": 5, "maxScoresDiscount": 50,
     "conditions": {"totalCashSpent": None, "effectiveInvitedCount": None}},
    {"uid": "silver", "name": "Серебряный", "rate": 7, "maxScoresDiscount": 50,
     "conditions": {"totalCashSpent": {"target": 20000}, "effectiveInvitedCount": None}},
    {"uid": "gold", "name": "Золотой", "rate": 10, "maxScoresDiscount": 70,
     "conditions": {"totalCashSpent": {"target": 50000}, "effectiveInvitedCount": None}},
]


class UdsError(Exception):
    """An answer in UDS's error shape."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errorCode": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _bad(message: str, field: str | None = None, value: Any = None, code: str = "invalid") -> UdsError:
    errors = [{"errorCode": code, "message": message, "field": field, "value": value}] if field else None
    return UdsError(400, "badRequest", message, errors)


def _not_found(message: str = "Customer with given code or ID is not found.") -> UdsError:
    return UdsError(404, "notFound", message)


def _amount(value: Any, field: str, *, required: bool = True, signed: bool = False) -> Decimal | None:
    """A number as UDS takes it: JSON number or numeric string, at most two decimals."""
    if value is None:
        if required:
            raise _bad(f"Property [{field}] cannot be null", field, None, "nullable")
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float | str):
        raise _bad(f"Property [{field}] must be a number", field, str(value), "typeMismatch")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"Property [{field}] must be a number", field, str(value), "typeMismatch") from None
    if not number.is_finite():
        raise _bad(f"Property [{field}] must be a number", field, str(value), "typeMismatch")
    if number != number.quantize(CENT):
        raise _bad(f"Property [{field}] must be rounded to two decimal places", field, str(value), "scale")
    if number < 0 and not signed:
        raise _bad(f"Property [{field}] must not be negative", field, str(value), "min")
    return number


def _down(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def _half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _f(value: Decimal) -> float:
    return float(value) + 0.0  # never "-0.0" (a purchase redeeming nothing)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def api(handler: Callable[..., Any]) -> Callable[..., Response]:
    """Partner API plumbing: auth, request id, UDS headers and error bodies, under the lock."""

    @functools.wraps(handler)
    def wrapper(self: UdsEmulator, request: Request, **args: Any) -> Response:
        origin = request.headers.get("X-Origin-Request-Id")
        try:
            self._authorise(request)
            if self.require_request_id and not origin:
                raise _bad("Header [X-Origin-Request-Id] is required", "X-Origin-Request-Id", None, "nullable")
            with self.lock:
                result = handler(self, request, **args)
            body, status = result if isinstance(result, tuple) else (result, 200)
        except UdsError as exc:
            body, status = exc.body(), exc.status
        headers = {"X-Request-Id": str(uuid.uuid4()), "X-Timestamp": _now()}
        if origin:
            headers["X-Origin-Request-Id"] = origin
        return json_response(body, status, headers)

    return wrapper


class UdsEmulator(Emulator):
    name = "uds"
    default_rate_limit = None  # UDS publishes no rate limit (docs.uds.app, kb.uds.app: none found)

    def __init__(self, *, rate_limit: float | None = None, company_id: str | None = None,
                 api_key: str | None = None) -> None:
        self.company_id = str(company_id or 549755813888 + secrets.randbelow(10**9))
        self.api_key = api_key or base64.b64encode(str(uuid.uuid4()).encode()).decode()
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [
            Rule(f"{PREFIX}/settings", endpoint="get_settings", methods=["GET"]),
            Rule(f"{PREFIX}/customers", endpoint="list_customers", methods=["GET"]),
            Rule(f"{PREFIX}/customers/find", endpoint="find_customer", methods=["GET"]),
            Rule(f"{PREFIX}/customers/<int:participant_id>", endpoint="get_customer", methods=["GET"]),
            Rule(f"{PREFIX}/operations", endpoint="list_operations", methods=["GET"]),
            Rule(f"{PREFIX}/operations", endpoint="create_operation", methods=["POST"]),
            Rule(f"{PREFIX}/operations/calc", endpoint="calc_operation", methods=["POST"]),
            Rule(f"{PREFIX}/operations/reward", endpoint="reward", methods=["POST"]),
            Rule(f"{PREFIX}/operations/<int:op_id>", endpoint="get_operation", methods=["GET"]),
            Rule(f"{PREFIX}/operations/<int:op_id>/refund", endpoint="refund_operation", methods=["POST"]),
            Rule(f"{PREFIX}/<path:rest>", endpoint="unknown_method"),
            Rule("/_emulator/customers", endpoint="knob_customer", methods=["POST"]),
            Rule("/_emulator/code", endpoint="knob_code", methods=["POST"]),
            Rule("/_emulator/operate", endpoint="knob_operate", methods=["POST"]),
        ]

    def reset(self) -> None:
        self.flags = {"purchaseByPhone": True, "usePointsByPhone": True}
        self.require_request_id = True
        self.customers: dict[int, dict[str, Any]] = {}  # participant id → customer
        self.operations: dict[int, dict[str, Any]] = {}  # operation id → operation (insertion = time order)
        self.by_nonce: dict[str, int] = {}
        self.cashiers: dict[str, int] = {}  # externalId → cashier id
        self.pending: dict[str, Decimal] = {}  # unregistered phone → cashback waiting for it to join
        self.next_participant = 1099511627777
        self.next_operation = 100000001

    def credentials(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "api_key": self.api_key}

    def entities(self) -> dict[str, Any]:
        return {"customers": [{**self._customer_view(c), "code": c["code"]} for c in self.customers.values()],
                "operations": [{**self._operation_view(op), "cashBack": _f(op["cashBack"]), "nonce": op["nonce"]}
                               for op in self.operations.values()],
                "pending_cashback": {phone: _f(points) for phone, points in self.pending.items()}}

    def control(self, spec: dict[str, Any]) -> None:
        for key, value in (spec.get("settings") or {}).items():
            if key in self.flags:
                self.flags[key] = bool(value)
        if "require_request_id" in spec:
            self.require_request_id = bool(spec["require_request_id"])
        if spec.get("expire_codes"):
            for customer in self.customers.values():
                customer["code_expires"] = 0.0

    # views --------------------------------------------------------------------------
    def _tier(self, customer: dict[str, Any]) -> dict[str, Any]:
        return TIERS[customer["tier"]]

    def _customer_view(self, c: dict[str, Any]) -> dict[str, Any]:
        tier = self._tier(c)
        return {
            "uid": c["uid"], "avatar": None, "displayName": c["displayName"], "gender": "NOT_SPECIFIED",
            "phone": c["phone"], "birthDate": None, "channelName": "UDS App", "email": None, "tags": [],
            "participant": {
                "id": c["id"], "inviterId": None, "points": _f(c["points"]), "discountRate": 0,
                "cashbackRate": tier["rate"], "cashSpent": _f(c["cashSpent"]), "savedFunds": _f(c["savedFunds"]),
                "invitedCount": 0, "effectiveInvitedCount": 0, "operationsCount": c["operationsCount"],
                "fullRefundsCount": c["fullRefundsCount"], "note": None, "membershipTier": dict(tier),
                "dateCreated": c["dateCreated"], "lastTransactionTime": c["lastTransactionTime"],
                "pointsExpireIn": None,
            },
        }

    def _short_view(self, participant_id: int | None) -> dict[str, Any]:
        c = self.customers.get(participant_id) if participant_id else None
        if c is None:  # a purchase by a phone not (yet) in UDS
            return {"id": None, "uid": None, "displayName": None, "membershipTier": None}
        return {"id": c["id"], "uid": c["uid"], "displayName": c["displayName"], "membershipTier": dict(self._tier(c))}

    def _operation_view(self, op: dict[str, Any]) -> dict[str, Any]:
        view = {
            "id": op["id"], "dateCreated": op["dateCreated"], "action": op["action"], "state": op["state"],
            "customer": self._short_view(op["customer"]), "cashier": op["cashier"], "branch": op["branch"],
            "points": _f(op["points"]), "certificatePoints": 0, "receiptNumber": op["receiptNumber"],
            "origin": {"id": op["origin"]} if op["origin"] else None,
            "total": _f(op["total"]), "cash": _f(op["cash"]),
        }
        if op["action"] == "REWARD":
            view["comment"] = op["comment"]
        return view

    def _settings(self) -> dict[str, Any]:
        return {
            "id": int(self.company_id) if self.company_id.isdigit() else self.company_id,
            "name": "Аквапарк (эмулятор UDS)", "promoCode": "emulator", "currency": "RUB",
            "baseDiscountPolicy": "CHARGE_SCORES", "purchaseByPhone": self.flags["purchaseByPhone"],
            "usePointsByPhone": self.flags["usePointsByPhone"], "writeInvoice": False, "slug": "emulator",
            "loyaltyProgramSettings": {
                "baseMembershipTier": dict(TIERS[0]), "membershipTiers": [dict(t) for t in TIERS[1:]],
                "referralCashbackRates": [0, 0, 0], "cashierAward": None, "referralReward": None,
                "receiptLimit": None, "deferPointsForDays": None, "firstPurchasePoints": None,
                "maxScoresDiscount": TIERS[0]["maxScoresDiscount"],
            },
        }

    # plumbing -----------------------------------------------------------------------
    def _authorise(self, request: Request) -> None:
        auth = request.authorization
        if (auth is None or auth.type != "basic" or auth.username != self.company_id
                or auth.password != self.api_key):
            raise UdsError(401, "unauthorized", "API key or company id are incorrect.")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        raw = request.get_data()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise _bad("Malformed JSON request body") from None
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object")
        return body

    @staticmethod
    def _page(request: Request) -> tuple[int, int]:
        try:
            size = int(request.args.get("max", DEFAULT_MAX))
            offset = int(request.args.get("offset", 0))
        except ValueError:
            raise _bad("Parameters [max] and [offset] must be integers") from None
        if not 1 <= size <= MAX_MAX:
            raise _bad(f"Parameter [max] must be between 1 and {MAX_MAX}", "max", str(size), "range")
        if not 0 <= offset <= MAX_OFFSET:
            raise _bad(f"Parameter [offset] must be between 0 and {MAX_OFFSET}", "offset", str(offset), "range")
        return size, offset

    def _by_code(self, code: str) -> dict[str, Any]:
        now = time.time()
        for customer in self.customers.values():
            if customer["code"] == code and customer["code_expires"] > now:
                return customer
        raise _not_found()

    def _by_uid(self, uid: str) -> dict[str, Any]:
        customer = next((c for c in self.customers.values() if c["uid"] == uid), None)
        if customer is None:
            raise _not_found()
        return customer

    def _by_phone(self, phone: str) -> dict[str, Any] | None:
        return next((c for c in self.customers.values() if c["phone"] == phone), None)

    def _identify(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str, str | None]:
        """(customer or None for an unknown phone, how it was identified, phone)."""
        participant = body.get("participant") or {}
        if not isinstance(participant, dict):
            raise _bad("Property [participant] must be an object", "participant")
        if body.get("code"):
            return self._by_code(str(body["code"])), "code", None
        if participant.get("uid"):
            return self._by_uid(str(participant["uid"])), "uid", None
        if participant.get("phone"):
            phone = str(participant["phone"])
            if not PHONE.match(phone):
                raise _bad("Property [participant.phone] must be in E.164 format", "participant.phone", phone)
            return self._by_phone(phone), "phone", phone
        raise _bad("One of [code], [participant.uid], [participant.phone] is required", "code", None, "nullable")

    def _issue_code(self, customer: dict[str, Any], *, long: bool = False) -> str:
        taken = {c["code"] for c in self.customers.values()}
        digits = 12 if long else 6
        code = f"{secrets.randbelow(10**digits):0{digits}d}"
        while code in taken:
            code = f"{secrets.randbelow(10**digits):0{digits}d}"
        customer["code"], customer["code_expires"] = code, time.time() + (LONG_CODE_TTL if long else CODE_TTL)
        return code

    # the money ----------------------------------------------------------------------
    def _quote(self, customer: dict[str, Any], via: str, receipt: dict[str, Any],
               points: Decimal | None) -> dict[str, Any]:
        """The PurchaseCalc of a receipt; ``points`` None means the most that may be redeemed."""
        total = _amount(receipt.get("total"), "receipt.total")
        skip = _amount(receipt.get("skipLoyaltyTotal"), "receipt.skipLoyaltyTotal", required=False) or ZERO
        unredeemable = _amount(receipt.get("unredeemableTotal"), "receipt.unredeemableTotal",
                               required=False) or ZERO
        assert total is not None
        if skip > total or unredeemable > total:
            raise _bad("[skipLoyaltyTotal] and [unredeemableTotal] must not exceed [total]", "receipt.total",
                       str(total))
        tier = self._tier(customer)
        cap = _down(max(ZERO, total - skip - unredeemable) * Decimal(tier["maxScoresDiscount"]) / 100)
        may_redeem = via == "code" or (via == "phone" and self.flags["usePointsByPhone"])
        max_points = max(ZERO, _down(min(customer["points"], cap))) if may_redeem else ZERO
        if points is None:
            points = max_points
        elif points > 0:
            if not may_redeem:
                raise UdsError(400, "withdrawNotPermitted",
                               "Points can be redeemed only with a payment code"
                               + (" or a phone number" if self.flags["usePointsByPhone"] else ""))
            if points > customer["points"]:
                raise UdsError(400, "insufficientFunds",
                               f"Given points {points} are greater than the balance {customer['points']}")
            if points > cap:
                raise UdsError(400, "discountLimitExceed",
                               f"Given points {points} exceed {tier['maxScoresDiscount']}% of the bill ({cap})")
        cash = total - points
        cashback = _half_up(max(ZERO, cash - skip) * Decimal(tier["rate"]) / 100)
        percent = _half_up(points * 100 / total) if total else ZERO
        return {
            "maxPoints": max_points, "total": total, "skipLoyaltyTotal": skip, "unredeemableTotal": unredeemable,
            "discountAmount": ZERO, "discountPercent": ZERO, "points": points, "pointsPercent": percent,
            "netDiscount": points, "netDiscountPercent": percent, "certificatePoints": ZERO, "cash": cash,
            "cashTotal": cash, "cashBack": cashback, "extras": {}, "maxScoresDiscount": tier["maxScoresDiscount"],
        }

    @staticmethod
    def _quote_view(quote: dict[str, Any]) -> dict[str, Any]:
        return {k: _f(v) if isinstance(v, Decimal) else v for k, v in quote.items()}

    def _record(self, **fields: Any) -> dict[str, Any]:
        op = {"id": self.next_operation, "dateCreated": _now(), "state": "NORMAL", "cashier": None,
              "branch": BRANCH, "receiptNumber": None, "origin": None, "total": ZERO, "cash": ZERO,
              "points": ZERO, "cashBack": ZERO, "skipLoyaltyTotal": ZERO, "nonce": None, "comment": None,
              "refunded": ZERO, "refundedCash": ZERO, "refundedPoints": ZERO, "reclaimed": ZERO, "phone": None,
              **fields}
        self.next_operation += 1
        self.operations[op["id"]] = op
        return op

    def _purchase(self, customer: dict[str, Any] | None, quote: dict[str, Any], *, cashier: dict[str, Any] | None,
                  number: str | None, nonce: str | None, phone: str | None) -> dict[str, Any]:
        redeemed, cashback, cash = quote["points"], quote["cashBack"], quote["cash"]
        if customer is None:  # unregistered phone: UDS keeps the cashback for when it joins
            assert phone is not None
            self.pending[phone] = self.pending.get(phone, ZERO) + cashback
        else:
            customer["points"] += cashback - redeemed
            customer["cashSpent"] += cash
            customer["savedFunds"] += redeemed
            customer["operationsCount"] += 1
            customer["lastTransactionTime"] = _now()
            earned = max((i for i, t in enumerate(TIERS)
                          if (t["conditions"]["totalCashSpent"] or {"target": 0})["target"] <= customer["cashSpent"]),
                         default=0)
            customer["tier"] = max(customer["tier"], earned)
        return self._record(action="PURCHASE", customer=customer["id"] if customer else None, phone=phone,
                            cashier=cashier, receiptNumber=number, total=quote["total"], cash=cash,
                            points=-redeemed, cashBack=cashback, skipLoyaltyTotal=quote["skipLoyaltyTotal"],
                            nonce=nonce)

    def _cashier(self, spec: Any) -> dict[str, Any] | None:
        if spec is None:
            return None
        if not isinstance(spec, dict) or not spec.get("externalId"):
            raise _bad("Property [cashier.externalId] cannot be null", "cashier.externalId", None, "nullable")
        external = str(spec["externalId"])
        if not EXTERNAL_ID.match(external):
            raise _bad("[cashier.externalId] may hold Latin letters, digits, '_' and '-' only",
                       "cashier.externalId", external)
        cashier_id = self.cashiers.setdefault(external, 1000 + len(self.cashiers) + 1)
        return {"id": cashier_id, "displayName": spec.get("name") or external}

    # the partner API ----------------------------------------------------------------
    @api
    def get_settings(self, request: Request) -> Any:
        return self._settings()

    @api
    def list_customers(self, request: Request) -> Any:
        size, offset = self._page(request)
        rows = list(self.customers.values())[offset:offset + size]
        return {"rows": [self._customer_view(c) for c in rows]}

    @api
    def get_customer(self, request: Request, participant_id: int) -> Any:
        customer = self.customers.get(participant_id)
        if customer is None:
            raise _not_found()
        return self._customer_view(customer)

    @api
    def find_customer(self, request: Request) -> Any:
        args = request.args
        code, phone, uid = args.get("code"), args.get("phone"), args.get("uid")
        if code:
            customer, via = self._by_code(code), "code"
        elif uid:
            customer, via = self._by_uid(uid), "uid"
        elif phone:  # an unencoded '+' arrives as a space and finds no one, as on the real server
            found = self._by_phone(phone)
            if found is None:
                raise _not_found()
            customer, via = found, "phone"
        else:
            raise _bad("One of [code], [phone], [uid] is required", "code", None, "nullable")
        new_code = None
        if code and args.get("exchangeCode", "").lower() == "true":
            new_code = self._issue_code(customer, long=True)
        purchase = None
        if args.get("total") is not None:
            receipt = {"total": args.get("total"), "skipLoyaltyTotal": args.get("skipLoyaltyTotal"),
                       "unredeemableTotal": args.get("unredeemableTotal")}
            purchase = self._quote_view(self._quote(customer, via, receipt, None))
        return {"user": self._customer_view(customer), "code": new_code, "type": "PURCHASE" if code else None,
                "purchase": purchase}

    @api
    def calc_operation(self, request: Request) -> Any:
        body = self._body(request)
        receipt = body.get("receipt")
        if not isinstance(receipt, dict):
            raise _bad("Property [receipt] cannot be null", "receipt", None, "nullable")
        customer, via, _phone = self._identify(body)
        if customer is None:
            raise _not_found()
        points = _amount(receipt.get("points"), "receipt.points", required=False)
        quote = self._quote(customer, via, receipt, points)
        return {"user": self._customer_view(customer), "purchase": self._quote_view(quote)}

    @api
    def create_operation(self, request: Request) -> Any:
        body = self._body(request)
        nonce = body.get("nonce")
        if nonce is not None and str(nonce) in self.by_nonce:  # the same purchase again: answer it, change nothing
            return self._operation_view(self.operations[self.by_nonce[str(nonce)]])
        receipt = body.get("receipt")
        if not isinstance(receipt, dict):
            raise _bad("Property [receipt] cannot be null", "receipt", None, "nullable")
        total = _amount(receipt.get("total"), "receipt.total")
        cash = _amount(receipt.get("cash"), "receipt.cash")
        points = _amount(receipt.get("points"), "receipt.points")
        assert total is not None and cash is not None and points is not None
        if total <= 0:
            raise _bad("Property [receipt.total] must be greater than 0", "receipt.total", str(total), "min")
        cashier = self._cashier(body.get("cashier"))
        number = receipt.get("number")
        customer, via, phone = self._identify(body)
        if via == "phone" and not self.flags["purchaseByPhone"]:
            raise UdsError(400, "purchaseByPhoneDisabled", "Purchases by phone number are disabled for the company.")
        if via == "uid" and points != 0:
            raise UdsError(400, "withdrawNotPermitted", "With [participant.uid] [points] must be 0.0.")
        if cash + points != total:
            raise UdsError(400, "invalidChecksum", "Given total, cash and points fields don't correlate with "
                           "company marketing settings in UDS.")
        if customer is None:
            if points:
                raise _not_found()
            stand_in = {"points": ZERO, "tier": 0}  # the base tier's rate, as for any newcomer
            quote = self._quote(stand_in, via, receipt, ZERO)
        else:
            quote = self._quote(customer, via, receipt, points)
        op = self._purchase(customer, quote, cashier=cashier, number=None if number is None else str(number),
                            nonce=None if nonce is None else str(nonce), phone=phone)
        if via == "code" and customer is not None:
            customer["code_expires"] = 0.0  # a payment code is spent by the purchase
        if nonce is not None:
            self.by_nonce[str(nonce)] = op["id"]
        return self._operation_view(op)

    @api
    def get_operation(self, request: Request, op_id: int) -> Any:
        op = self.operations.get(op_id)
        if op is None:
            raise _not_found("Operation is not found.")
        return self._operation_view(op)

    @api
    def refund_operation(self, request: Request, op_id: int) -> Any:
        body = self._body(request)
        op = self.operations.get(op_id)
        if op is None:
            raise _not_found("Operation is not found.")
        if op["action"] != "PURCHASE" or op["state"] != "NORMAL":
            raise _bad("Only a purchase can be refunded", "id", str(op_id))
        left = op["total"] - op["refunded"]
        if left <= 0:
            raise _bad("The operation is already refunded in full", "id", str(op_id))
        amount = _amount(body.get("partialAmount"), "partialAmount", required=False)
        if amount is None:
            amount = left
        if amount <= 0 or amount > left:
            raise _bad(f"Property [partialAmount] must be greater than 0 and not greater than {left}",
                       "partialAmount", str(amount), "range")
        redeemed = -op["points"]
        if amount == left:  # the last part takes the remainders, so that rounding never leaks points
            cash, returned = op["cash"] - op["refundedCash"], redeemed - op["refundedPoints"]
            reclaim = op["cashBack"] - op["reclaimed"]
        else:
            share = amount / op["total"]
            cash, returned = _half_up(op["cash"] * share), _down(redeemed * share)
            reclaim = _half_up(op["cashBack"] * share)
        customer = self.customers.get(op["customer"]) if op["customer"] else None
        if customer is not None:
            customer["points"] += returned
            reclaim = min(reclaim, customer["points"])  # a balance spent meanwhile is not pushed below zero
            customer["points"] -= reclaim
            customer["cashSpent"] -= cash
            customer["savedFunds"] -= returned
            if amount == left:
                customer["fullRefundsCount"] += 1
        elif op["phone"]:
            reclaim = min(reclaim, self.pending.get(op["phone"], ZERO))
            self.pending[op["phone"]] = self.pending.get(op["phone"], ZERO) - reclaim
        op["refunded"] += amount
        op["refundedCash"] += cash
        op["refundedPoints"] += returned
        op["reclaimed"] += reclaim
        refund = self._record(action="PURCHASE", state="REVERSAL", origin=op["id"], customer=op["customer"],
                              phone=op["phone"], cashier=op["cashier"], total=-amount, cash=-cash, points=returned,
                              cashBack=-reclaim)
        return self._operation_view(refund)

    @api
    def reward(self, request: Request) -> Any:
        body = self._body(request)
        points = _amount(body.get("points"), "points", signed=True)
        assert points is not None
        if points == 0:
            raise _bad("Property [points] must not be 0", "points", "0", "min")
        participants = body.get("participants")
        if not isinstance(participants, list) or not participants:
            raise _bad("Property [participants] cannot be empty", "participants", None, "nullable")
        comment = body.get("comment")
        accepted = 0
        for raw in participants:  # no idempotency key in UDS: a repeat grants again
            try:
                customer = self.customers.get(int(str(raw)))
            except ValueError:
                raise _bad("Property [participants] must hold customer ids", "participants", str(raw)) from None
            if customer is None or customer["points"] + points < 0:
                continue  # UDS accrues asynchronously per customer; one it cannot serve is just not counted
            customer["points"] += points
            self._record(action="REWARD", customer=customer["id"], points=points,
                         comment=None if comment is None else str(comment), silent=bool(body.get("silent")))
            accepted += 1
        return {"accepted": accepted}, 202

    @api
    def list_operations(self, request: Request) -> Any:
        size, offset = self._page(request)
        rows = sorted(self.operations.values(), key=lambda op: op["id"], reverse=True)  # newest first
        cursor = request.args.get("cursor")
        if cursor:
            try:
                after = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("op:"))
            except (ValueError, binascii.Error):
                raise _bad("Parameter [cursor] is invalid", "cursor", cursor) from None
            rows = [op for op in rows if op["id"] < after]
        else:
            rows = rows[offset:]
        page = rows[:size]
        more = len(rows) > size
        next_cursor = base64.urlsafe_b64encode(f"op:{page[-1]['id']}".encode()).decode() if more else None
        # ``total`` is deprecated: UDS has answered 0 since 2021-07-12 ("to optimize the request speed")
        return {"rows": [self._operation_view(op) for op in page], "total": 0, "cursor": next_cursor}

    @api
    def unknown_method(self, request: Request, rest: str) -> Any:
        raise _not_found(f"The page you requested is not found: {request.method} {PREFIX}/{rest}")

    # knobs ------------------------------------------------------------------------------
    def knob_customer(self, request: Request) -> Response:
        """A customer joins the company in the UDS app (there is no partner call for it)."""
        spec = request.get_json(force=True, silent=True) or {}
        phone, name = str(spec.get("phone") or ""), str(spec.get("name") or "").strip()
        if not PHONE.match(phone) or not name:
            return json_response({"error": "phone (E.164, +7…) and name are required"}, 400)
        try:
            points = _amount(spec.get("points"), "points", required=False) or ZERO
        except UdsError as exc:
            return json_response({"error": exc.message}, 400)
        tier = next((i for i, t in enumerate(TIERS) if t["uid"] == spec.get("tier", "base")), None)
        if tier is None:
            return json_response({"error": f"tier is one of {[t['uid'] for t in TIERS]}"}, 400)
        with self.lock:
            if self._by_phone(phone) is not None:
                return json_response({"error": f"a customer with phone {phone} exists"}, 409)
            customer = {"id": self.next_participant, "uid": str(uuid.uuid4()), "phone": phone, "displayName": name,
                        "points": points + self.pending.pop(phone, ZERO), "tier": tier, "cashSpent": ZERO,
                        "savedFunds": ZERO, "operationsCount": 0, "fullRefundsCount": 0, "dateCreated": _now(),
                        "lastTransactionTime": None, "code": None, "code_expires": 0.0}
            self.next_participant += 1
            self.customers[customer["id"]] = customer
            for op in self.operations.values():  # its purchases made by phone before it joined
                if op["customer"] is None and op["phone"] == phone:
                    op["customer"] = customer["id"]
            code = self._issue_code(customer)
        return json_response({"id": customer["id"], "uid": customer["uid"], "code": code,
                              "points": _f(customer["points"])}, 201)

    def knob_code(self, request: Request) -> Response:
        """The customer opens the card in the app: a fresh 6-digit payment code."""
        spec = request.get_json(force=True, silent=True) or {}
        with self.lock:
            customer = self._by_phone(str(spec.get("phone") or ""))
            if customer is None:
                return json_response({"error": "no customer with that phone"}, 404)
            return json_response({"code": self._issue_code(customer)})

    def knob_operate(self, request: Request) -> Response:
        """A cashier in the venue: a purchase (with ``total``) or a manual accrual/deduction."""
        spec = request.get_json(force=True, silent=True) or {}
        with self.lock:
            customer = self._by_phone(str(spec.get("phone") or ""))
            if customer is None:
                return json_response({"error": "no customer with that phone"}, 404)
            try:
                if spec.get("total") is not None:
                    total = _amount(spec["total"], "total")
                    points = _amount(spec.get("points") or 0, "points")
                    assert total is not None and points is not None
                    quote = self._quote(customer, "code", {"total": total}, points)
                    op = self._purchase(customer, quote, cashier=VENUE_CASHIER, number=spec.get("number"),
                                        nonce=None, phone=None)
                else:
                    points = _amount(spec.get("points"), "points", signed=True)
                    assert points is not None
                    if customer["points"] + points < 0:
                        return json_response({"error": "the balance would go below zero"}, 400)
                    customer["points"] += points
                    op = self._record(action="REWARD", customer=customer["id"], points=points,
                                      cashier=VENUE_CASHIER, comment=spec.get("comment"))
            except UdsError as exc:
                return json_response({"error": exc.message, "errorCode": exc.code}, exc.status)
            return json_response({"operation": self._operation_view(op), "points": _f(customer["points"])})


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--company-id", default=None)
        parser.add_argument("--api-key", default=None)

    run_cli(lambda a: UdsEmulator(rate_limit=a.rate_limit, company_id=a.company_id, api_key=a.api_key),
            "UDS partner API v2 emulator", add_arguments)


if __name__ == "__main__":
    main()
