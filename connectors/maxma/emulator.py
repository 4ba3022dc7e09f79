"""Emulator of the MAXMA (formerly CloudLoyalty) processing API: a bonus / loyalty program.

Written from the public description, not from our client: contracts/bonus-programs.md
(MAXMA), github cloudloyalty/client-go (``client.go``, ``models.go``, ``models_v2.go``,
``errors.go``, ``models_webhook.go``), cloudloyalty/client-php (its models are generated
from https://api.maxma.com/openapi.yaml and carry that file's field docs) and the webhook
spec cloudloyalty/cloudloyalty.github.io ``api/openapi-webhooks.yaml``.

Protocol. Every call is ``POST /<operation>`` with a JSON body and the header
``X-Processing-Key``. Every answer is HTTP 200; a failure is ``{"errorCode": N > 0,
"description", "hint"}`` (codes of errors.go: 1 general, 2 malformed request, 3 client not
found, 6 incorrect bonus amount, 10 incorrect return item, 11 incorrect return amount,
13 incorrect return purchase, 17 already processed, 18 empty rows, 20 incorrect phone,
21 purchase not found, 22 purchase discarded, 24 duplicate phone, 25 duplicate card,
29 empty phone, 30 duplicate externalId, 33 promocode not found, 48 duplicate email).
Operations: ``new-client``, ``update-client``, ``get-balance``, ``v2/calculate-purchase``,
``set-purchase`` → ``confirm-ticket`` | ``discard-ticket``, ``calculate-return``,
``apply-return``, ``adjust-balance``, ``get-bonus-history`` (and its older name
``get-history``, still used by the PHP client).

Confirmed by the sources: operation names, field names, error codes, ``bonuses.error``
inside a calculation result, ``ticket`` from set-purchase, history operations
(``OPERATION_APPLIED`` …) with a sub-object named after the operation, ``pagination.total``,
expiry details only for bonuses expiring within 50 days, the webhook envelope and its
delivery rules. Not stated by them, so chosen here (our design, change if MAXMA says
otherwise):

- a wrong/missing processing key: HTTP 200 ``{"errorCode": 1, "description": "Invalid
  processing key"}``;
- ``v2/calculate-purchase`` with ``applyBonuses`` above ``maxToApply`` still answers, with
  ``bonuses.applied = 0`` and ``bonuses.error = {"code": 6, …}`` (the schema has that field
  for it); ``set-purchase`` with the same query fails with top-level errorCode 6;
- one bonus = one rouble; earn ``earn_percent`` (5) of the money paid per row, at most
  ``max_apply_percent`` (50) of each row payable by bonuses; collected bonuses are pending
  for ``pending_days`` (0) and live ``bonus_lifetime_days`` (365); spending draws from the
  bonuses that expire first;
- ``set-purchase`` reserves the applied bonuses at once (``clientBonuses.reserved``); the
  same ``txid`` again: the same query → the same ticket and answer (a lost response
  replayed), another query → the old reservation released, a new ticket (the old one now
  answers 22); a confirmed txid → 17, a discarded one → 22;
- ``confirm-ticket`` answers ``{}``; confirming twice → 17; ``discard-ticket`` twice → ``{}``;
  discarding a confirmed purchase → 17 (that is a return);
- ``apply-return`` is idempotent per ``transaction.id`` (the stored confirmation again);
  ``purchaseId`` is the purchase's txid; unknown → 21, not confirmed → 13; by ``items``
  (sku, itemCount) or by ``refundAmount`` (share of the money still paid); spent bonuses
  come back and collected ones are cancelled in proportion, cumulatively, so the last
  return settles to the unit; a cancellation beyond the balance leaves it negative;
- history newest first, ``pagination.limit`` 20 by default, at most 100.

Webhooks. After every call the events it caused go, if a hub URL is set, as ONE POST whose
body is a JSON array of events, as openapi-webhooks.yaml says: ``[{"event":
"EVENT_CLIENT_BONUSES_CHANGED", "eventId": uuid, "eventTime": RFC 3339, "source":
"api"|"internal", "EVENT_CLIENT_BONUSES_CHANGED": {"client": {"phoneNumber", "card",
"externalId"}, "clientBonuses": {"totalAmount", "availableAmount", "pendingAmount"},
"bonusesDelta": {"availableDelta", "pendingDelta"}}}]``; ``EVENT_CLIENT_NEW`` carries
``{"clientData": {...}}``, ``EVENT_CLIENT_CHANGED`` ``{"client", "clientData"}``.
Authentication: the spec only *recommends* closing the receiver with HTTP authorization
(and/or MAXMA's IP range) and answering 401/403 when it fails. So every delivery carries
``Authorization: Basic base64(webhook_user:webhook_password)`` — the user and password in
the URL's userinfo if it has them, else the emulator's ``webhook_user`` (``maxma``) /
``webhook_password`` (see ``credentials()``); it has nothing to do with the processing key.
Delivery, as the spec says: 2xx done; 5xx, timeout or no connection → retried, 10 attempts
in all with a growing pause (here 0.2 s doubling up to 2 s — knob ``webhook_retry``); 3xx and
4xx → not retried; the same event may thus arrive more than once (dedupe by ``eventId``).

Knobs (no auth): ``POST /_emulator/operate {"phoneNumber", "amount", "comment"}`` — a cashier
or manager changes bonuses inside MAXMA (history + webhook with ``source: internal``).
``POST /_emulator/faults`` also takes ``{"webhook_url"}``, ``{"webhook_user",
"webhook_password"}``, ``{"processing_key"}``, ``{"earn_percent"}``,
``{"max_apply_percent"}``, ``{"pending_days"}``, ``{"bonus_lifetime_days"}``,
``{"webhook_retry": {"attempts", "delay", "max_delay", "timeout"}}`` and
``{"advance_days": N}`` (moves the emulator's clock: pending bonuses mature, old ones expire,
with their webhooks). Run: ``python -m connectors.maxma.emulator --port N
[--hub-webhook-url URL] [--processing-key KEY]``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import secrets
import threading
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

ERR_GENERAL = 1
ERR_MALFORMED = 2
ERR_CLIENT_NOT_FOUND = 3
ERR_INCORRECT_BONUS_AMOUNT = 6
ERR_INCORRECT_RETURN_ITEM = 10
ERR_INCORRECT_RETURN_AMOUNT = 11
ERR_INCORRECT_RETURN_PURCHASE = 13
ERR_ALREADY_PROCESSED = 17
ERR_EMPTY_ROWS = 18
ERR_INCORRECT_PHONE = 20
ERR_PURCHASE_NOT_FOUND = 21
ERR_PURCHASE_DISCARDED = 22
ERR_DUPLICATING_PHONE = 24
ERR_DUPLICATING_CARD = 25
ERR_EMPTY_PHONE = 29
ERR_DUPLICATING_EXTERNAL_ID = 30
ERR_PROMOCODE_NOT_FOUND = 33
ERR_DUPLICATING_EMAIL = 48

DESCRIPTIONS = {
    ERR_GENERAL: "General error",
    ERR_MALFORMED: "Malformed request",
    ERR_CLIENT_NOT_FOUND: "Client not found",
    ERR_INCORRECT_BONUS_AMOUNT: "Incorrect bonus amount",
    ERR_INCORRECT_RETURN_ITEM: "Incorrect return item",
    ERR_INCORRECT_RETURN_AMOUNT: "Incorrect return amount",
    ERR_INCORRECT_RETURN_PURCHASE: "Incorrect return purchase",
    ERR_ALREADY_PROCESSED: "Already processed",
    ERR_EMPTY_ROWS: "Empty rows array",
    ERR_INCORRECT_PHONE: "Incorrect phone",
    ERR_PURCHASE_NOT_FOUND: "Purchase not found",
    ERR_PURCHASE_DISCARDED: "Purchase discarded",
    ERR_DUPLICATING_PHONE: "Duplicating phone",
    ERR_DUPLICATING_CARD: "Duplicating card",
    ERR_EMPTY_PHONE: "Empty phone",
    ERR_DUPLICATING_EXTERNAL_ID: "Duplicating external ID",
    ERR_PROMOCODE_NOT_FOUND: "Promocode not found",
    ERR_DUPLICATING_EMAIL: "Duplicating email",
}

#: path → handler; every one is ``POST /<path>``
OPERATIONS = {
    "new-client": "_new_client",
    "update-client": "_update_client",
    "get-balance": "_get_balance",
    "v2/calculate-purchase": "_calculate_purchase",
    "set-purchase": "_set_purchase",
    "confirm-ticket": "_confirm_ticket",
    "discard-ticket": "_discard_ticket",
    "calculate-return": "_calculate_return",
    "apply-return": "_apply_return",
    "adjust-balance": "_adjust_balance",
    "get-bonus-history": "_get_bonus_history",
    "get-history": "_get_bonus_history",  # the name before Nov 2025; the PHP client still calls it
}

OPERATION_NAMES = {  # operationName per operation, from the history entry's field doc
    "OPERATION_APPLIED": "Оплата покупки",
    "OPERATION_COLLECTED": "Начисление за покупку",
    "OPERATION_EXPIRED": "Списание по истечении срока",
    "OPERATION_REFUNDED": "Отмена списания",
    "OPERATION_CANCELLED": "Отмена начисления",
    "OPERATION_RECEIVED": "Начисление по акции",
    "OPERATION_RECALLED": "Отмена",
}
ADJUSTMENT_ACTION = "Корректировка"  # actionName of a manual change "from MAXMA or by API"

CLIENT_FIELDS = ("phoneNumber", "card", "externalId", "surname", "name", "patronymicName", "fullName",
                 "gender", "birthdate", "email", "level", "isEmailSubscribed", "isPhoneSubscribed",
                 "extraFields", "children")
EXPIRY_DETAIL_DAYS = 50  # get-balance dates only the bonuses expiring this soon
HISTORY_LIMIT, HISTORY_MAX_LIMIT = 20, 100
CENT = Decimal("0.01")
ONE = Decimal(1)


class MaxmaError(Exception):
    """A processing error: answered as HTTP 200 with ``errorCode``, as MAXMA does."""

    def __init__(self, code: int, hint: str = "", description: str | None = None) -> None:
        super().__init__(description or DESCRIPTIONS.get(code, "Error"))
        self.code, self.hint = code, hint
        self.description = description or DESCRIPTIONS.get(code, "Error")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errorCode": self.code, "description": self.description}
        if self.hint:
            body["hint"] = self.hint
        return body

    def nested(self) -> dict[str, Any]:
        """The same error inside a calculation result (``{"code", "description", "hint"}``)."""
        return {"code": self.code, "description": self.description, **({"hint": self.hint} if self.hint else {})}


# values --------------------------------------------------------------------------------------
def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MaxmaError(ERR_MALFORMED, f"{field} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MaxmaError(ERR_MALFORMED, f"{field} must be a number") from None
    if not number.is_finite():
        raise MaxmaError(ERR_MALFORMED, f"{field} must be a number")
    return number


def _integer(value: Any, field: str) -> int:
    """MAXMA's ``Int``: a whole number, ``10.0`` accepted."""
    number = _number(value, field)
    if number != number.to_integral_value():
        raise MaxmaError(ERR_MALFORMED, f"{field} must be a whole number")
    return int(number)


def _int_or_auto(value: Any, field: str, default: int | str) -> int | str:
    if value is None:
        return default
    if isinstance(value, str) and value.lower() == "auto":
        return "auto"
    return _integer(value, field)


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _round(value: Decimal) -> int:
    return int(value.quantize(ONE, rounding=ROUND_HALF_UP))


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def normalize_phone(raw: Any) -> str | None:
    """``+7XXXXXXXXXX`` from the ways Russians write a mobile number; other countries need a ``+``."""
    if not isinstance(raw, str | int):
        return None
    text = str(raw).strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10 and digits[0] == "9":
        return "+7" + digits
    if text.startswith("+") and 11 <= len(digits) <= 15:
        return "+" + digits
    return None


def _returned_after(returned: Decimal, share: Decimal) -> Decimal:
    """The returned share of a row after a return; a hair below 1 (division) is all of it."""
    after = min(ONE, returned + share)
    return ONE if ONE - after < Decimal("1e-9") else after


def _allocate(total: int, weights: list[Decimal], caps: list[int] | None = None) -> list[int]:
    """Split whole bonuses over rows in proportion to ``weights`` (largest remainder), never
    above a row's cap; with ``total <= sum(caps)`` and weights = caps every unit finds a row."""
    out = [0] * len(weights)
    weight_sum = sum(weights, Decimal(0))
    if total <= 0 or weight_sum <= 0:
        return out
    shares = [total * w / weight_sum for w in weights]
    out = [int(share) for share in shares]
    rest = total - sum(out)
    for i in sorted(range(len(weights)), key=lambda i: shares[i] - out[i], reverse=True):
        if rest <= 0:
            break
        if weights[i] > 0 and (caps is None or out[i] < caps[i]):
            out[i] += 1
            rest -= 1
    return out


class MaxmaEmulator(Emulator):
    name = "maxma"
    default_rate_limit = None  # MAXMA publishes no request limit

    def __init__(self, *, rate_limit: float | None = None, processing_key: str | None = None,
                 hub_webhook_url: str = "", webhook_user: str = "maxma", webhook_password: str | None = None,
                 earn_percent: float = 5, max_apply_percent: float = 50, pending_days: float = 0,
                 bonus_lifetime_days: float = 365) -> None:
        self.processing_key = processing_key or secrets.token_hex(16)
        self.hub_webhook_url = hub_webhook_url
        self.webhook_user = webhook_user
        self.webhook_password = webhook_password or secrets.token_urlsafe(16)
        self.earn_percent = Decimal(str(earn_percent))
        self.max_apply_percent = Decimal(str(max_apply_percent))
        self.pending_days = float(pending_days)
        self.bonus_lifetime_days = float(bonus_lifetime_days)
        self.webhook_attempts, self.webhook_delay, self.webhook_max_delay = 10, 0.2, 2.0
        self.webhook_timeout = 5.0
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        rules = [Rule(f"/{path}", endpoint="api", defaults={"operation": path}, methods=["POST"])
                 for path in OPERATIONS]
        return [*rules, Rule("/_emulator/operate", endpoint="operate", methods=["POST"])]

    def reset(self) -> None:
        self.clients: list[dict[str, Any]] = []
        self.purchases: dict[str, dict[str, Any]] = {}  # txid → purchase
        self.tickets: dict[str, str] = {}  # every ticket ever issued → its txid
        self.returns: dict[str, dict[str, Any]] = {}  # return transaction id → stored answer
        self.events: list[dict[str, Any]] = []  # every event raised, delivered or not
        self.webhook_log: list[dict[str, Any]] = []  # one record per POST to the hub
        self.outbox: list[dict[str, Any]] = []
        self.clock_offset = dt.timedelta(0)
        self.sequence = 0

    def credentials(self) -> dict[str, Any]:
        return {"processing_key": self.processing_key, "webhook_url": self.hub_webhook_url,
                "webhook_user": self.webhook_user, "webhook_password": self.webhook_password}

    def entities(self) -> dict[str, Any]:
        return {
            "now": _iso(self.now()),
            "settings": {"earn_percent": float(self.earn_percent), "max_apply_percent": float(self.max_apply_percent),
                         "pending_days": self.pending_days, "bonus_lifetime_days": self.bonus_lifetime_days},
            "clients": [{**self._client_reply(c), "clientBonuses": self._client_bonuses(c)} for c in self.clients],
            "purchases": [self._purchase_view(p) for p in self.purchases.values()],
            "returns": list(self.returns.values()),
            "history": {c["data"]["phoneNumber"]: list(reversed(c["history"])) for c in self.clients},
            "events": self.events,
            "webhook_deliveries": sum(len(record["attempts"]) for record in self.webhook_log),
            "webhooks": self.webhook_log,
        }

    def control(self, spec: dict[str, Any]) -> None:
        """Every value is parsed before any is set: a bad knob (HTTP 500) changes nothing."""
        retry = spec.get("webhook_retry") or {}
        values: dict[str, Any] = {
            **{k: str(spec[k]) for k in ("webhook_user", "webhook_password", "processing_key") if spec.get(k)},
            **{k: Decimal(str(float(spec[k]))) for k in ("earn_percent", "max_apply_percent") if k in spec},
            **{k: float(spec[k]) for k in ("pending_days", "bonus_lifetime_days") if k in spec},
            "webhook_attempts": max(1, int(retry.get("attempts", self.webhook_attempts))),
            "webhook_delay": float(retry.get("delay", self.webhook_delay)),
            "webhook_max_delay": float(retry.get("max_delay", self.webhook_max_delay)),
            "webhook_timeout": float(retry.get("timeout", self.webhook_timeout)),
        }
        advance = float(spec.get("advance_days") or 0)
        if "webhook_url" in spec:
            values["hub_webhook_url"] = str(spec["webhook_url"] or "")
        for key, value in values.items():
            setattr(self, key, value)
        if advance:
            self.clock_offset += dt.timedelta(days=advance)
            self.outbox = []
            self._tick()
            self._flush()

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.clock_offset

    # the API ----------------------------------------------------------------------------------
    def api(self, request: Request, operation: str) -> Response:
        key = request.headers.get("X-Processing-Key", "")
        if not secrets.compare_digest(key.encode(), self.processing_key.encode()):
            return json_response(MaxmaError(ERR_GENERAL, "check the X-Processing-Key header",
                                            "Invalid processing key").body())
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return json_response(MaxmaError(ERR_MALFORMED, "the body must be a JSON object").body())
        with self.lock:
            self.outbox = []
            self._tick()
            try:
                reply = getattr(self, OPERATIONS[operation])(body)
            except MaxmaError as exc:
                reply = exc.body()
            self._flush()
        return json_response(reply)

    def _new_client(self, body: dict[str, Any]) -> dict[str, Any]:
        data = self._client_fields(body.get("client"), None)
        if not data.get("phoneNumber"):
            raise MaxmaError(ERR_EMPTY_PHONE, "client.phoneNumber is required")
        self.sequence += 1
        data.setdefault("card", f"2{self.sequence:011d}")
        client = {"id": self.sequence, "data": data, "lots": [], "debt": 0, "history": [], "seen": (0, 0),
                  "createdAt": _iso(self.now())}
        self.clients.append(client)
        self._raise_event("EVENT_CLIENT_NEW", "api", {"clientData": self._client_data(client)})
        return {"client": self._client_reply(client), "bonuses": self._expirations(client)}

    def _update_client(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._find_client(body)
        before = self._client_ref(client)
        changes = self._client_fields(body.get("client"), client)
        if "phoneNumber" in changes and not changes["phoneNumber"]:
            raise MaxmaError(ERR_EMPTY_PHONE, "client.phoneNumber cannot be emptied")
        client["data"].update(changes)
        if changes:
            self._raise_event("EVENT_CLIENT_CHANGED", "api",
                              {"client": before, "clientData": self._client_data(client)})
        return {"client": self._client_reply(client), "bonuses": self._expirations(client)}

    def _get_balance(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._find_client(body)
        return {"client": self._client_reply(client), "bonuses": self._expirations(client)}

    def _calculate_purchase(self, body: dict[str, Any]) -> dict[str, Any]:
        query = body.get("calculationQuery")
        if not isinstance(query, dict):
            raise MaxmaError(ERR_MALFORMED, "calculationQuery is required")
        client = self._query_client(query)
        result, _ = self._calculate(query, client, strict=False)
        return {"calculationResult": result}

    def _set_purchase(self, body: dict[str, Any]) -> dict[str, Any]:
        txid, query = str(body.get("txid") or ""), body.get("calculationQuery")
        if not txid or not isinstance(query, dict):
            raise MaxmaError(ERR_MALFORMED, "txid and calculationQuery are required")
        existing = self.purchases.get(txid)
        if existing and existing["status"] == "confirmed":
            raise MaxmaError(ERR_ALREADY_PROCESSED, f"purchase {txid} is already confirmed")
        if existing and existing["status"] == "discarded":
            raise MaxmaError(ERR_PURCHASE_DISCARDED, f"purchase {txid} was discarded")
        if existing and existing["query"] == query:
            return existing["reply"]
        client = self._query_client(query)
        if existing:  # the check was punched again: what the old one reserved counts as available
            self._restore(existing["client"], existing["draws"])
        try:
            result, calc = self._calculate(query, client, strict=True)
        except MaxmaError:
            if existing:  # the old ticket stays as it was
                self._take_back(existing["client"], existing["draws"])
            raise
        if existing and existing["client"]:
            existing["draws"] = []
            self._settle(existing["client"], "api")
        draws = self._draw(client, calc["applied"], available_only=True) if client and calc["applied"] else []
        ticket = uuid.uuid4().hex
        purchase = {
            "txid": txid, "ticket": ticket, "old_tickets": [*existing["old_tickets"], existing["ticket"]]
            if existing else [], "status": "pending", "client": client, "query": query, "result": result,
            "draws": draws, "executedAt": query.get("executedAt") or _iso(self.now()),
            "createdAt": _iso(self.now()), **calc, "returned_money": Decimal(0), "collect_lot": None,
        }
        self.purchases[txid] = purchase
        self.tickets[ticket] = txid
        reply: dict[str, Any] = {"calculationResult": result, "ticket": ticket}
        if client:
            self._settle(client, "api")
            reply = {"clientBonuses": self._client_bonuses(client), **reply}
        purchase["reply"] = reply
        return reply

    def _ticket_purchase(self, body: dict[str, Any]) -> dict[str, Any]:
        """The purchase a confirm/discard names, by txid and/or ticket."""
        txid, ticket = str(body.get("txid") or ""), str(body.get("ticket") or "")
        if not txid and not ticket:
            raise MaxmaError(ERR_MALFORMED, "txid or ticket is required")
        purchase = self.purchases.get(txid or self.tickets.get(ticket, ""))
        if purchase is None or (ticket and ticket != purchase["ticket"] and ticket not in purchase["old_tickets"]):
            raise MaxmaError(ERR_PURCHASE_NOT_FOUND, "no purchase with this txid and ticket")
        if ticket in purchase["old_tickets"]:
            raise MaxmaError(ERR_PURCHASE_DISCARDED, "this ticket was replaced by a later set-purchase")
        return purchase

    def _confirm_ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        purchase = self._ticket_purchase(body)
        if purchase["status"] == "confirmed":
            raise MaxmaError(ERR_ALREADY_PROCESSED, f"purchase {purchase['txid']} is already confirmed")
        if purchase["status"] == "discarded":
            raise MaxmaError(ERR_PURCHASE_DISCARDED, f"purchase {purchase['txid']} was discarded")
        purchase.update(status="confirmed", confirmedAt=_iso(self.now()),
                        sessionNum=body.get("sessionNum"), receiptNum=body.get("receiptNum"))
        client = purchase["client"]
        if client is None:
            return {}
        detail = {"purchaseId": purchase["txid"], "executedAt": purchase["executedAt"],
                  "totalAmount": _money(purchase["totalAmount"])}
        if purchase["applied"]:
            self._history(client, "OPERATION_APPLIED", -purchase["applied"], detail)
        if purchase["collected"]:
            lot = self._credit(client, purchase["collected"], pending_days=self.pending_days,
                               origin=f"purchase {purchase['txid']}")
            purchase["collect_lot"] = lot["id"]
            self._history(client, "OPERATION_COLLECTED", purchase["collected"], detail)
        self._settle(client, "api")
        return {}

    def _discard_ticket(self, body: dict[str, Any]) -> dict[str, Any]:
        purchase = self._ticket_purchase(body)
        if purchase["status"] == "confirmed":
            raise MaxmaError(ERR_ALREADY_PROCESSED, "a confirmed purchase is undone by apply-return")
        if purchase["status"] == "pending":
            if purchase["client"]:
                self._restore(purchase["client"], purchase["draws"])
                self._settle(purchase["client"], "api")
            purchase.update(status="discarded", draws=[], discardedAt=_iso(self.now()))
        return {}

    def _calculate_return(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("calculate")
        if not isinstance(spec, dict):
            raise MaxmaError(ERR_MALFORMED, "calculate is required")
        purchase = self._returnable(spec)
        plan = self._plan_return(purchase, spec)
        return {"calculation": {"purchaseId": purchase["txid"], "refundAmount": _money(plan["refund"]),
                                "recoveredBonuses": plan["recovered"], "cancelledBonuses": plan["cancelled"]}}

    def _apply_return(self, body: dict[str, Any]) -> dict[str, Any]:
        tx = body.get("transaction")
        if not isinstance(tx, dict) or not tx.get("id"):
            raise MaxmaError(ERR_MALFORMED, "transaction.id is required")
        return_id = str(tx["id"])
        if return_id in self.returns:  # a retry of a return already made: no second effect
            return self.returns[return_id]["reply"]
        purchase = self._returnable(tx)
        plan = self._plan_return(purchase, tx)
        for line, share in zip(purchase["lines"], plan["shares"], strict=True):
            line["returned"] = _returned_after(line["returned"], share)
        purchase["returned_money"] += plan["refund"]
        client = purchase["client"]
        executed = tx.get("executedAt") or _iso(self.now())
        detail = {"returnId": return_id, "executedAt": executed, "refundAmount": _money(plan["refund"])}
        if client and plan["recovered"]:
            self._credit(client, plan["recovered"], origin=f"return {return_id}")
            self._history(client, "OPERATION_REFUNDED", plan["recovered"], detail)
        if client and plan["cancelled"]:
            self._draw(client, plan["cancelled"], prefer=purchase["collect_lot"])
            self._history(client, "OPERATION_CANCELLED", -plan["cancelled"], detail)
        if client:
            self._settle(client, "api")
        reply = {"confirmation": {"phoneNumber": client["data"]["phoneNumber"] if client else "",
                                  "refundId": return_id, "refundAmount": _money(plan["refund"]),
                                  "recoveredBonuses": plan["recovered"], "cancelledBonuses": plan["cancelled"]}}
        self.returns[return_id] = {"id": return_id, "purchaseId": purchase["txid"], "executedAt": executed,
                                   "items": tx.get("items") or [], "reply": reply}
        return reply

    def _adjust_balance(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._find_client(body.get("client"))
        adjustment = body.get("balanceAdjustment")
        if not isinstance(adjustment, dict):
            raise MaxmaError(ERR_MALFORMED, "balanceAdjustment is required")
        delta = _integer(adjustment.get("amountDelta"), "amountDelta")
        days = adjustment.get("expirationPeriodDays")
        lifetime = _integer(days, "expirationPeriodDays") if days not in (None, 0) else None
        if lifetime is not None and lifetime <= 0:
            raise MaxmaError(ERR_MALFORMED, "expirationPeriodDays must be positive")
        self._adjust(client, delta, str(adjustment.get("comment") or ""), "api", lifetime)
        return {"clientBonuses": self._client_bonuses(client)}

    def _get_bonus_history(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._find_client(body.get("client"))
        paging = body.get("pagination") or {}
        if not isinstance(paging, dict):
            raise MaxmaError(ERR_MALFORMED, "pagination must be an object")
        limit = _integer(paging.get("limit") or HISTORY_LIMIT, "pagination.limit")
        offset = _integer(paging.get("offset") or 0, "pagination.offset")
        if limit < 0 or offset < 0:
            raise MaxmaError(ERR_MALFORMED, "pagination values cannot be negative")
        newest_first = list(reversed(client["history"]))
        return {"history": newest_first[offset:offset + min(limit, HISTORY_MAX_LIMIT)],
                "pagination": {"total": len(newest_first)}}

    # knobs ------------------------------------------------------------------------------------
    def operate(self, request: Request) -> Response:
        """A cashier or manager changes bonuses inside MAXMA: history, then a webhook (source internal)."""
        spec = request.get_json(force=True, silent=True) or {}
        with self.lock:
            self.outbox = []
            self._tick()
            try:
                client = self._find_client({"phoneNumber": spec.get("phoneNumber")})
                amount = _integer(spec.get("amount"), "amount")
                self._adjust(client, amount, str(spec.get("comment") or ""), "internal", None)
                reply = {"clientBonuses": self._client_bonuses(client), "history": client["history"][-1]}
                status = 200
            except MaxmaError as exc:
                reply, status = exc.body(), 400
            self._flush()
        return json_response(reply, status)

    # clients ----------------------------------------------------------------------------------
    def _client_fields(self, raw: Any, client: dict[str, Any] | None) -> dict[str, Any]:
        """Checked and normalised client fields; unique ones against everyone but ``client``."""
        if not isinstance(raw, dict):
            raise MaxmaError(ERR_MALFORMED, "client must be an object")
        data = {k: raw[k] for k in CLIENT_FIELDS if k in raw and raw[k] is not None}
        if "phoneNumber" in data and data["phoneNumber"] != "":
            phone = normalize_phone(data["phoneNumber"])
            if phone is None:
                raise MaxmaError(ERR_INCORRECT_PHONE, f"cannot read {data['phoneNumber']!r} as a phone number")
            data["phoneNumber"] = phone
        for key in ("card", "externalId", "email"):
            if key in data:
                data[key] = str(data[key]).strip()
        if "birthdate" in data:
            text = str(data["birthdate"])[:10]
            try:
                data["birthdate"] = dt.date.fromisoformat(text).isoformat()
            except ValueError:
                raise MaxmaError(ERR_MALFORMED, "birthdate must be YYYY-MM-DD") from None
        for key in ("gender", "level"):
            if key in data:
                data[key] = _integer(data[key], key)
        others = [c for c in self.clients if c is not client]
        for key, code in (("phoneNumber", ERR_DUPLICATING_PHONE), ("card", ERR_DUPLICATING_CARD),
                          ("externalId", ERR_DUPLICATING_EXTERNAL_ID), ("email", ERR_DUPLICATING_EMAIL)):
            value = data.get(key)
            if value and any(str(c["data"].get(key, "")).lower() == value.lower() for c in others):
                raise MaxmaError(code, f"another client has {key} {value}")
        if client is None and "fullName" not in data:
            parts = [data.get("name"), data.get("patronymicName"), data.get("surname")]
            if any(parts):
                data["fullName"] = " ".join(p for p in parts if p)
        return data

    def _find_client(self, query: Any) -> dict[str, Any]:
        """By ``phoneNumber``, ``card`` or ``externalId`` (the ClientQuery of the API)."""
        if not isinstance(query, dict):
            raise MaxmaError(ERR_MALFORMED, "client query must be an object")
        phone, card, external = query.get("phoneNumber"), query.get("card"), query.get("externalId")
        if not (phone or card or external):
            raise MaxmaError(ERR_MALFORMED, "give phoneNumber, card or externalId")
        if phone:
            phone = normalize_phone(phone)
            if phone is None:
                raise MaxmaError(ERR_INCORRECT_PHONE, f"cannot read {query['phoneNumber']!r} as a phone number")
        for client in self.clients:
            data = client["data"]
            if ((phone and data.get("phoneNumber") == phone) or (card and data.get("card") == str(card))
                    or (external and data.get("externalId") == str(external))):
                return client
        raise MaxmaError(ERR_CLIENT_NOT_FOUND, "no client with these identifiers")

    def _query_client(self, query: dict[str, Any]) -> dict[str, Any] | None:
        """The check's client; none = an anonymous sale, where the bonus program does not work."""
        raw = query.get("client")
        if not raw or not any(raw.get(k) for k in ("phoneNumber", "card", "externalId")):
            return None
        return self._find_client(raw)

    def _client_ref(self, client: dict[str, Any]) -> dict[str, Any]:
        return {k: client["data"][k] for k in ("phoneNumber", "card", "externalId") if client["data"].get(k)}

    def _client_data(self, client: dict[str, Any]) -> dict[str, Any]:
        data = client["data"]
        return {"phoneNumber": data.get("phoneNumber", ""), "card": data.get("card", ""),
                "externalId": data.get("externalId", ""), "email": data.get("email", ""),
                "surname": data.get("surname", ""), "name": data.get("name", ""),
                "patronymicName": data.get("patronymicName", ""), "fullName": data.get("fullName", ""),
                "gender": data.get("gender", 0), "birthdate": data.get("birthdate", ""), "level": data.get("level", 0),
                "isEmailSubscribed": bool(data.get("isEmailSubscribed")),
                "isPhoneSubscribed": bool(data.get("isPhoneSubscribed")),
                "extraFields": data.get("extraFields") or {}, "isDeleted": False}

    def _client_reply(self, client: dict[str, Any]) -> dict[str, Any]:
        data = client["data"]
        available, pending = self._balance(client)
        reply = {k: v for k, v in data.items() if v not in ("", None, [], {})}
        card = str(data.get("card", ""))
        if card:
            reply["cardString"] = card
            if card.isdigit():
                reply["card"] = int(card)
        return {**reply, "gender": data.get("gender", 0), "level": data.get("level", 0),
                "isEmailSubscribed": bool(data.get("isEmailSubscribed")),
                "isPhoneSubscribed": bool(data.get("isPhoneSubscribed")),
                "bonuses": available, "pendingBonuses": pending}

    # the ledger -------------------------------------------------------------------------------
    def _balance(self, client: dict[str, Any]) -> tuple[int, int]:
        """(available, pending) now; bonuses reserved by pending tickets are already out."""
        now, available, pending = self.now(), 0, 0
        for lot in client["lots"]:
            if lot["amount"] <= 0:
                continue
            if lot["availableAt"] > now:
                pending += lot["amount"]
            elif lot["expireAt"] is None or lot["expireAt"] > now:
                available += lot["amount"]
        return available - client["debt"], pending

    def _reserved(self, client: dict[str, Any]) -> int:
        return sum(p["applied"] for p in self.purchases.values() if p["client"] is client and p["status"] == "pending")

    def _client_bonuses(self, client: dict[str, Any]) -> dict[str, int]:
        available, pending = self._balance(client)
        return {"available": available, "pending": pending, "reserved": self._reserved(client),
                "total": available + pending}

    def _expirations(self, client: dict[str, Any]) -> list[dict[str, Any]]:
        """get-balance ``bonuses``: dated only for what expires within 50 days, the rest in one undated item."""
        now = self.now()
        horizon, soon, later = now + dt.timedelta(days=EXPIRY_DETAIL_DAYS), {}, 0
        for lot in client["lots"]:
            if lot["amount"] <= 0 or lot["availableAt"] > now or (lot["expireAt"] and lot["expireAt"] <= now):
                continue
            if lot["expireAt"] and lot["expireAt"] <= horizon:
                soon[lot["expireAt"]] = soon.get(lot["expireAt"], 0) + lot["amount"]
            else:
                later += lot["amount"]
        items = [{"amount": amount, "expireAt": _iso(at)} for at, amount in sorted(soon.items())]
        return items + ([{"amount": later}] if later else [])

    def _credit(self, client: dict[str, Any], amount: int, *, pending_days: float = 0,
                lifetime_days: float | None = None, origin: str) -> dict[str, Any]:
        self.sequence += 1
        available_at = self.now() + dt.timedelta(days=pending_days)
        lifetime = self.bonus_lifetime_days if lifetime_days is None else lifetime_days
        lot = {"id": self.sequence, "amount": amount, "initial": amount, "origin": origin,
               "availableAt": available_at, "expireAt": available_at + dt.timedelta(days=lifetime)}
        client["lots"].append(lot)
        return lot

    def _draw(self, client: dict[str, Any], amount: int, *, prefer: int | None = None,
              available_only: bool = False) -> list[tuple[int, int]]:
        """Take bonuses out: the ``prefer`` lot first (a purchase's own bonuses on its return),
        then those expiring first, then pending ones; a shortfall becomes debt (negative balance)."""
        now = self.now()
        live = [lot for lot in client["lots"]
                if lot["amount"] > 0 and (lot["expireAt"] is None or lot["expireAt"] > now)]
        ready = sorted((lot for lot in live if lot["availableAt"] <= now), key=lambda lot: lot["expireAt"])
        waiting = sorted((lot for lot in live if lot["availableAt"] > now), key=lambda lot: lot["availableAt"])
        order = [lot for lot in live if lot["id"] == prefer] + [
            lot for lot in ready + ([] if available_only else waiting) if lot["id"] != prefer]
        draws, left = [], amount
        for lot in order:
            take = min(lot["amount"], left)
            if take > 0:
                lot["amount"] -= take
                left -= take
                draws.append((lot["id"], take))
        if left > 0:
            client["debt"] += left
            draws.append((0, left))
        return draws

    def _restore(self, client: dict[str, Any] | None, draws: list[tuple[int, int]], sign: int = 1) -> None:
        """Put drawn bonuses back where they came from (``sign=-1``: take them out again)."""
        if client is None:
            return
        lots = {lot["id"]: lot for lot in client["lots"]}
        for lot_id, amount in draws:
            if lot_id == 0:
                client["debt"] -= sign * amount
            else:
                lots[lot_id]["amount"] += sign * amount

    def _take_back(self, client: dict[str, Any] | None, draws: list[tuple[int, int]]) -> None:
        self._restore(client, draws, sign=-1)

    def _adjust(self, client: dict[str, Any], delta: int, comment: str, source: str, lifetime: int | None) -> None:
        if delta == 0:
            raise MaxmaError(ERR_INCORRECT_BONUS_AMOUNT, "amountDelta cannot be 0")
        detail = {"actionName": ADJUSTMENT_ACTION, **({"comment": comment} if comment else {})}
        if delta > 0:
            self._credit(client, delta, lifetime_days=lifetime, origin="adjustment")
            self._history(client, "OPERATION_RECEIVED", delta, detail)
        else:
            available = self._balance(client)[0]
            if -delta > available:
                raise MaxmaError(ERR_INCORRECT_BONUS_AMOUNT, f"only {available} bonuses available")
            self._draw(client, -delta, available_only=True)
            self._history(client, "OPERATION_RECALLED", delta, detail)
        self._settle(client, source)

    def _history(self, client: dict[str, Any], operation: str, amount: int, detail: dict[str, Any],
                 at: dt.datetime | None = None) -> None:
        client["history"].append({"at": _iso(at or self.now()), "amount": amount, "operation": operation,
                                  "operationName": OPERATION_NAMES[operation], operation: detail})

    def _tick(self) -> None:
        """What time did: bonuses past their date expire (history), pending ones mature (webhooks)."""
        now = self.now()
        for client in self.clients:
            for lot in client["lots"]:
                if lot["amount"] > 0 and lot["expireAt"] is not None and lot["expireAt"] <= now:
                    self._history(client, "OPERATION_EXPIRED", -lot["amount"], {}, at=lot["expireAt"])
                    lot["amount"] = 0
            self._settle(client, "internal")

    # purchases --------------------------------------------------------------------------------
    def _calculate(self, query: dict[str, Any], client: dict[str, Any] | None,
                   *, strict: bool) -> tuple[dict[str, Any], dict[str, Any]]:
        """Price the check: per-row cap of bonuses, what is applied and what is collected.
        ``strict`` (set-purchase) turns a bad ``applyBonuses`` into errorCode 6; a calculation
        reports it in ``bonuses.error`` instead."""
        rows = query.get("rows")
        if not isinstance(rows, list) or not rows:
            raise MaxmaError(ERR_EMPTY_ROWS, "calculationQuery.rows is empty")
        lines = []
        for n, row in enumerate(rows):
            if not isinstance(row, dict) or not isinstance(row.get("product"), dict):
                raise MaxmaError(ERR_MALFORMED, f"rows[{n}].product is required")
            product = row["product"]
            price_field = "redPrice" if product.get("redPrice") is not None else "blackPrice"
            price = _number(product.get(price_field), f"rows[{n}].product.{price_field}")
            qty = _number(row.get("qty"), f"rows[{n}].qty")
            if qty <= 0 or price < 0:
                raise MaxmaError(ERR_MALFORMED, f"rows[{n}]: qty must be positive and price not negative")
            amount = price * qty
            auto = _number(row.get("autoDiscount") or 0, f"rows[{n}].autoDiscount")
            manual = _number(row.get("manualDiscount") or 0, f"rows[{n}].manualDiscount")
            base = max(amount - auto - manual, Decimal(0))
            cap = Decimal(0) if row.get("noApplyBonuses") else base * self.max_apply_percent / 100
            if row.get("maxDiscount") is not None:
                cap = min(cap, max(_number(row["maxDiscount"], f"rows[{n}].maxDiscount") - auto - manual, Decimal(0)))
            if product.get("minPrice"):
                floor_price = _number(product["minPrice"], f"rows[{n}].product.minPrice") * qty
                cap = min(cap, max(base - floor_price, Decimal(0)))
            lines.append({"id": row.get("id"), "sku": str(product.get("sku") or ""), "qty": qty, "amount": amount,
                          "auto": auto, "manual": manual, "base": base, "cap": int(cap),
                          "collect": not row.get("noCollectBonuses"), "returned": Decimal(0)})
        apply_spec = _int_or_auto(query.get("applyBonuses"), "applyBonuses", 0)
        collect_spec = _int_or_auto(query.get("collectBonuses"), "collectBonuses", "auto")
        available = max(self._balance(client)[0], 0) if client else 0
        max_to_apply = min(sum(line["cap"] for line in lines), available)
        error = None
        if client is None:
            applied = 0
        elif apply_spec == "auto":
            applied = max_to_apply
        elif apply_spec < 0 or apply_spec > max_to_apply:
            error = MaxmaError(ERR_INCORRECT_BONUS_AMOUNT, f"applyBonuses {apply_spec}: at most {max_to_apply} "
                                                           f"can be applied to this check")
            if strict:
                raise error
            applied = 0
        else:
            applied = int(apply_spec)
        for line, part in zip(lines, _allocate(applied, [Decimal(x["cap"]) for x in lines],
                                               [x["cap"] for x in lines]), strict=True):
            line["applied"] = part
            line["paid"] = line["base"] - part
        eligible = [line["paid"] if line["collect"] else Decimal(0) for line in lines]
        if client is None:
            collected = 0
        elif collect_spec == "auto":
            collected = int(sum(eligible, Decimal(0)) * self.earn_percent / 100)
        else:
            collected = max(int(collect_spec), 0)
        if not any(eligible) and collected:  # an explicit number on a check paid in full by bonuses
            eligible = [Decimal(1 if line["collect"] else 0) for line in lines]
        for line, part in zip(lines, _allocate(collected, eligible), strict=True):
            line["collected"] = part
        collected = sum(line["collected"] for line in lines)
        result_rows, totals = [], {"auto": Decimal(0), "manual": Decimal(0), "bonuses": Decimal(0)}
        for line in lines:
            discounts = {"auto": line["auto"], "manual": line["manual"], "bonuses": Decimal(line["applied"])}
            for key, value in discounts.items():
                totals[key] += value
            result_row: dict[str, Any] = {
                "totalDiscount": _money(sum(discounts.values(), Decimal(0))),
                "discounts": {**{k: _money(v) for k, v in discounts.items()}, "promocode": 0.0, "offer": 0.0,
                              "rounding": 0.0}}
            if line["id"] is not None:
                result_row = {"id": str(line["id"]), **result_row}
            if client is not None:
                result_row["bonuses"] = {"applied": line["applied"], "collected": line["collected"]}
            result_rows.append(result_row)
        result: dict[str, Any] = {
            "rows": result_rows,
            "summary": {"totalDiscount": _money(sum(totals.values(), Decimal(0))),
                        "discounts": {**{k: _money(v) for k, v in totals.items()}, "promocode": 0.0, "offer": 0.0,
                                      "rounding": 0.0},
                        "prepaidAmount": 0.0}}
        if client is not None:
            result["bonuses"] = {"applied": applied, "collected": collected, "maxToApply": max_to_apply}
            if error:
                result["bonuses"]["error"] = error.nested()
        if query.get("promocode"):  # no promo campaigns in the emulator
            result["promocode"] = {"applied": False, "error": MaxmaError(ERR_PROMOCODE_NOT_FOUND).nested()}
        calc = {"lines": lines, "applied": applied, "collected": collected,
                "totalAmount": sum((line["amount"] for line in lines), Decimal(0)),
                "paidAmount": sum((line["paid"] for line in lines), Decimal(0))}
        return result, calc

    def _returnable(self, spec: dict[str, Any]) -> dict[str, Any]:
        purchase_id = str(spec.get("purchaseId") or "")
        if not purchase_id:
            raise MaxmaError(ERR_MALFORMED, "purchaseId is required")
        purchase = self.purchases.get(purchase_id)
        if purchase is None:
            raise MaxmaError(ERR_PURCHASE_NOT_FOUND, f"no purchase with txid {purchase_id}")
        if purchase["status"] != "confirmed":
            raise MaxmaError(ERR_INCORRECT_RETURN_PURCHASE, f"purchase {purchase_id} is {purchase['status']}, "
                                                            "only a confirmed purchase can be returned")
        return purchase

    def _plan_return(self, purchase: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        """Shares of each row going back now, the money, and the bonuses to give back / take back."""
        lines = purchase["lines"]
        shares = [Decimal(0)] * len(lines)
        remaining = sum((line["paid"] * (ONE - line["returned"]) for line in lines), Decimal(0))
        items = spec.get("items") or []
        refund = None if spec.get("refundAmount") is None else _number(spec["refundAmount"], "refundAmount")
        if items:
            for item in items:
                sku = str(item.get("sku") or "") if isinstance(item, dict) else ""
                count = _number(item.get("itemCount"), "items.itemCount") if sku else Decimal(0)
                if count <= 0:
                    raise MaxmaError(ERR_INCORRECT_RETURN_ITEM, "each item needs a sku and a positive itemCount")
                left = count
                for i, line in enumerate(lines):
                    free = line["qty"] * (ONE - line["returned"] - shares[i])
                    take = min(free, left) if line["sku"] == sku else Decimal(0)
                    if take > 0:
                        shares[i] += take / line["qty"]
                        left -= take
                if left > 0:
                    raise MaxmaError(ERR_INCORRECT_RETURN_ITEM, f"sku {sku}: {left} more than bought and not returned")
            money = sum((line["paid"] * share for line, share in zip(lines, shares, strict=True)), Decimal(0))
            refund = money if refund is None else refund
        else:
            if refund is None or refund <= 0:
                raise MaxmaError(ERR_INCORRECT_RETURN_AMOUNT, "give items or a positive refundAmount")
            if remaining <= 0:
                raise MaxmaError(ERR_INCORRECT_RETURN_AMOUNT, "nothing left to return")
            ratio = min(refund / remaining, ONE)
            shares = [(ONE - line["returned"]) * ratio for line in lines]
        if refund < 0 or refund > remaining + CENT:
            raise MaxmaError(ERR_INCORRECT_RETURN_AMOUNT, f"refundAmount {refund}: only {_money(remaining)} left")
        recovered = cancelled = 0
        for line, share in zip(lines, shares, strict=True):
            after = _returned_after(line["returned"], share)
            recovered += _round(line["applied"] * after) - _round(line["applied"] * line["returned"])
            cancelled += _round(line["collected"] * after) - _round(line["collected"] * line["returned"])
        return {"shares": shares, "refund": refund, "recovered": recovered, "cancelled": cancelled}

    def _purchase_view(self, purchase: dict[str, Any]) -> dict[str, Any]:
        return {"txid": purchase["txid"], "ticket": purchase["ticket"], "status": purchase["status"],
                "phoneNumber": purchase["client"]["data"]["phoneNumber"] if purchase["client"] else None,
                "applied": purchase["applied"], "collected": purchase["collected"],
                "totalAmount": _money(purchase["totalAmount"]), "paidAmount": _money(purchase["paidAmount"]),
                "returnedAmount": _money(purchase["returned_money"]), "executedAt": purchase["executedAt"],
                "createdAt": purchase["createdAt"]}

    # webhooks ---------------------------------------------------------------------------------
    def _settle(self, client: dict[str, Any], source: str) -> None:
        """EVENT_CLIENT_BONUSES_CHANGED when (available, pending) moved since the last one."""
        available, pending = self._balance(client)
        before = client["seen"]
        if (available, pending) == before:
            return
        client["seen"] = (available, pending)
        self._raise_event("EVENT_CLIENT_BONUSES_CHANGED", source, {
            "client": self._client_ref(client),
            "clientBonuses": {"totalAmount": available + pending, "availableAmount": available,
                              "pendingAmount": pending},
            "bonusesDelta": {"availableDelta": available - before[0], "pendingDelta": pending - before[1]}})

    def _raise_event(self, name: str, source: str, payload: dict[str, Any]) -> None:
        event = {"event": name, "eventId": str(uuid.uuid4()), "eventTime": _iso(self.now()), "source": source,
                 name: payload}
        self.events.append(event)
        self.outbox.append(event)

    def _flush(self) -> None:
        """One POST per API call with every event it caused, as a JSON array, in the background."""
        events, self.outbox = self.outbox, []
        if not events or not self.hub_webhook_url:
            return
        parts = urlsplit(self.hub_webhook_url)
        user, password = self.webhook_user, self.webhook_password
        if parts.username is not None:
            user, password = unquote(parts.username), unquote(parts.password or "")
            parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}",
                   "User-Agent": "MAXMA-webhooks (emulator)"}
        record = {"url": urlunsplit(parts), "eventIds": [e["eventId"] for e in events], "attempts": [],
                  "delivered": False}
        self.webhook_log.append(record)
        body = json.dumps(events, ensure_ascii=False).encode()
        thread = threading.Thread(target=self._deliver, args=(record, body, headers), daemon=True)
        self.deliveries.append(thread)
        thread.start()

    def _deliver(self, record: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
        """MAXMA's rules: 2xx done; 5xx, timeout or no connection retried with a growing pause;
        3xx and 4xx (e.g. 401/403 of a failed authorization) dropped."""
        for attempt in range(self.webhook_attempts):
            if attempt:
                time.sleep(min(self.webhook_delay * 2 ** (attempt - 1), self.webhook_max_delay))
            try:
                answer = requests.post(record["url"], data=body, headers=headers, timeout=self.webhook_timeout,
                                       allow_redirects=False)
            except requests.RequestException as exc:
                with self.lock:
                    record["attempts"].append({"error": type(exc).__name__})
                continue
            with self.lock:
                record["attempts"].append({"status": answer.status_code})
                record["delivered"] = 200 <= answer.status_code < 300
            if answer.status_code < 500:
                return


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub-webhook-url", default="")
        parser.add_argument("--processing-key", default=None)
        parser.add_argument("--webhook-password", default=None)
        parser.add_argument("--earn-percent", type=float, default=5)
        parser.add_argument("--max-apply-percent", type=float, default=50)
        parser.add_argument("--pending-days", type=float, default=0)

    run_cli(lambda a: MaxmaEmulator(rate_limit=a.rate_limit, processing_key=a.processing_key,
                                    hub_webhook_url=a.hub_webhook_url, webhook_password=a.webhook_password,
                                    earn_percent=a.earn_percent, max_apply_percent=a.max_apply_percent,
                                    pending_days=a.pending_days),
            "MAXMA / CloudLoyalty processing API emulator", add_arguments)


if __name__ == "__main__":
    main()
