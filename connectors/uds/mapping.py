"""UDS partner API v2 in one place: paths, field names, error codes and what the hub tells
people about them, and the translation to and from the bonus-program port.

Sources: the public OpenAPI of docs.uds.app and the shapes the public SDKs send and parse
(see the emulator's docstring). What UDS does not give and the hub works around:

- no idempotency key but the purchase's ``nonce``: refunds and rewards are matched against
  the history before they are made again (see the adapter);
- operations do not report the cashback (only ``points``: minus the redeemed points, or the
  points given back by a refund), so a purchase's earn line in the history is estimated
  from ``cash`` and the customer's current tier rate;
- no history per customer: ``GET /operations`` lists the whole company, newest first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from loyalty.ports import ProgramBalance, ProgramClient, ProgramLine, ProgramOperation

# paths (under the base URL ``https://api.uds.app/partner/v2``) ------------------------------
SETTINGS = "/settings"
FIND_CUSTOMER = "/customers/find"  # GET ?phone=+7… (requests encodes "+" as %2B) | code= | uid=
CUSTOMER = "/customers/{id}"  # GET, by participant id
CALCULATE = "/operations/calc"  # POST
OPERATIONS = "/operations"  # POST: a purchase; GET ?max=&cursor=: the company's history, newest first
OPERATION = "/operations/{id}"  # GET
REFUND = "/operations/{id}/refund"  # POST {partialAmount?}
REWARD = "/operations/reward"  # POST {points, comment, silent, participants: [id]} → 202 {accepted}

HISTORY_MAX = 50  # ``max`` of GET /operations: at most 50 rows a page
HISTORY_SCAN_PAGES = 20  # a client's history is read from at most 1,000 of the company's latest rows
REFUND_SCAN_PAGES = 20  # a purchase's reversals are looked for in at most 1,000 latest rows
REWARD_SCAN_PAGES = 4  # a reward made before an answer was lost is looked for in 200 latest rows

# headers ------------------------------------------------------------------------------------
REQUEST_ID_HEADER = "X-Origin-Request-Id"
TIMESTAMP_HEADER = "X-Timestamp"

# values --------------------------------------------------------------------------------------
PURCHASE, REWARD_ACTION = "PURCHASE", "REWARD"
NORMAL, REVERSAL, CANCELED = "NORMAL", "REVERSAL", "CANCELED"

#: UDS documents no length for ``receipt.number``; a longer hub key is sent as a hash (its
#: history lines then cannot name the hub's key, see ``receipt_number``).
RECEIPT_NUMBER_MAX = 64
HASHED_NUMBER = "sha1:"
#: The hub's key of a reward travels at the end of its comment: "<comment> [hub:<key>]".
MARKER_OPEN, MARKER_CLOSE = "[hub:", "]"

#: Their error codes → what the hub tells people.
ERRORS = {
    "notFound": "Клиент не найден в UDS (или его код оплаты устарел).",
    "operationNotFound": "Операция не найдена в UDS.",
    "badRequest": "UDS отклонил запрос: неверные данные.",
    "invalidChecksum": "UDS: сумма чека не сходится с оплатой деньгами и баллами.",
    "insufficientFunds": "В UDS у клиента недостаточно баллов.",
    "discountLimitExceed": "UDS: баллами можно оплатить только часть чека — превышен лимит программы.",
    "withdrawNotPermitted": "UDS не разрешает списывать баллы по номеру телефона — "
                            "включите это в настройках компании в UDS Business.",
    "purchaseByPhoneDisabled": "В настройках компании UDS выключены покупки по номеру телефона — "
                               "включите их в UDS Business.",
    "participantIsBlocked": "Клиент заблокирован в UDS.",
    "forbidden": "UDS: доступ запрещён (проверьте ID компании и API-ключ).",
}
CANNOT_REGISTER = ("Клиент должен сам зарегистрироваться в приложении UDS (партнёр не может "
                   "зарегистрировать клиента через API); после этого операция пройдёт.")
REWARD_REFUSED = "UDS не принял начисление: клиент не участник программы компании."
DEDUCTION_REFUSED = "В UDS у клиента недостаточно баллов для списания (или он не участник программы)."
REFUNDED_ALREADY = "Покупка в UDS уже возвращена полностью."

CENT = Decimal("0.01")


# numbers -------------------------------------------------------------------------------------
def amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(CENT, ROUND_HALF_UP) + 0
    except InvalidOperation:
        return Decimal(0).quantize(CENT)


def number(value: Decimal) -> float:
    """Money for UDS: a JSON number with two decimals (half up)."""
    return float(value.quantize(CENT, ROUND_HALF_UP))


def points(value: Decimal) -> float:
    """Points for UDS: two decimals, rounded down (their rule for points)."""
    return float(value.quantize(CENT, ROUND_DOWN))


def total(lines: list[ProgramLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0)).quantize(CENT, ROUND_HALF_UP)


def _time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


# idempotency --------------------------------------------------------------------------------
def nonce(key: str) -> str:
    """The purchase's nonce: derived from the hub's key, so a retried confirm is the same purchase."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def receipt_number(key: str) -> str:
    """The hub's key as the receipt number (its history lines then carry the hub's key); a key
    longer than UDS is assumed to take becomes ``sha1:<hex>``."""
    if len(key) <= RECEIPT_NUMBER_MAX:
        return key
    return HASHED_NUMBER + hashlib.sha1(key.encode()).hexdigest()  # noqa: S324 - a name, not a secret


def marked(comment: str, key: str) -> str:
    return f"{comment} [hub:{key}]".strip()


def unmarked(comment: Any) -> tuple[str, str]:
    """(comment without the marker, the hub's key or "")."""
    text = str(comment or "").rstrip()
    start = text.rfind(MARKER_OPEN)
    if start < 0 or not text.endswith(MARKER_CLOSE) or start + len(MARKER_OPEN) >= len(text) - 1:
        return text, ""
    return text[:start].rstrip(), text[start + len(MARKER_OPEN):-len(MARKER_CLOSE)]


# customers ----------------------------------------------------------------------------------
def client_from(user: dict[str, Any]) -> ProgramClient:
    """The participant id is the client's id: what rewards and ``/customers/{id}`` take."""
    participant = user.get("participant") or {}
    return ProgramClient(id=str(participant["id"]), phone=str(user.get("phone") or ""),
                         name=str(user.get("displayName") or ""))


def balance_from(user: dict[str, Any]) -> ProgramBalance:
    """UDS has no pending points; ``pointsExpireIn`` is when the customer's points burn (all of
    them, as UDS burns points of customers who stopped buying)."""
    participant = user.get("participant") or {}
    available = amount(participant.get("points"))
    expires = _time(participant.get("pointsExpireIn")) if participant.get("pointsExpireIn") else None
    expiring = ((expires.date(), available),) if expires is not None and available > 0 else ()
    return ProgramBalance(available=available, expiring=expiring)


# operations ---------------------------------------------------------------------------------
def customer_id(op: dict[str, Any]) -> str:
    customer = op.get("customer") or {}
    return "" if customer.get("id") is None else str(customer["id"])


def origin_id(op: dict[str, Any]) -> str:
    origin = op.get("origin") or {}
    return "" if origin.get("id") is None else str(origin["id"])


def estimated_cashback(op: dict[str, Any]) -> Decimal:
    """A purchase's cashback: UDS does not report it, so ``cash`` × the customer's tier rate
    now (exact unless the tier changed since; the balance check corrects the rest)."""
    tier = (op.get("customer") or {}).get("membershipTier") or {}
    rate = amount(tier.get("rate"))
    cash = amount(op.get("cash"))
    return max(Decimal(0), cash * rate / 100).quantize(CENT, ROUND_HALF_UP)


def estimated_reclaim(reversal: dict[str, Any], origin: dict[str, Any] | None) -> Decimal:
    """The cashback a refund took back: its share of the purchase's (estimated) cashback."""
    if origin is None:
        return Decimal(0).quantize(CENT)
    whole = amount(origin.get("total"))
    if whole <= 0:
        return Decimal(0).quantize(CENT)
    share = min(Decimal(1), abs(amount(reversal.get("total"))) / whole)
    return (estimated_cashback(origin) * share).quantize(CENT, ROUND_HALF_UP)


def hub_key(op: dict[str, Any]) -> str:
    """The hub's confirm key of a purchase: its receipt number (unless hashed)."""
    number_ = str(op.get("receiptNumber") or "")
    return "" if number_.startswith(HASHED_NUMBER) else number_


def operations_from(op: dict[str, Any], origins: dict[str, dict[str, Any]]) -> list[ProgramOperation]:
    """One UDS operation as the port's history lines, newest first like the history.

    A purchase: ``<id>:redeem`` (minus the redeemed points) and ``<id>:earn`` (the cashback),
    keyed ``<receipt number>:redeem`` / ``:earn``. A refund (state REVERSAL): ``<id>:return``
    (points given back) and ``<id>:cancel`` (cashback taken back), with no key (UDS refunds
    carry none of ours). A reward: one line keyed by the marker in its comment. ``origins``:
    purchases by id, for the cashback a refund took back."""
    op_id = str(op["id"])
    at = _time(op.get("dateCreated"))
    action, state = str(op.get("action") or ""), str(op.get("state") or NORMAL)
    value = amount(op.get("points"))
    extra = {"action": action, "state": state}
    if action == REWARD_ACTION:
        comment, key = unmarked(op.get("comment"))
        return [ProgramOperation(id=op_id, points=value, kind="adjust", comment=comment, at=at, key=key,
                                 extra=extra)]
    if action != PURCHASE:  # certificates, goods orders…: only their points are known
        return [ProgramOperation(id=op_id, points=value, kind="adjust", at=at, extra=extra)] if value else []
    receipt = str(op.get("receiptNumber") or "")
    if state == REVERSAL:
        origin = origins.get(origin_id(op))
        extra = {**extra, "origin": origin_id(op), "total": str(amount(op.get("total")))}
        lines = []
        reclaim = estimated_reclaim(op, origin)
        if reclaim:
            lines.append(ProgramOperation(id=f"{op_id}:cancel", points=-reclaim, kind="refund", at=at,
                                          comment="Возврат в UDS: списан кешбэк", extra=extra))
        if value:
            lines.append(ProgramOperation(id=f"{op_id}:return", points=value, kind="refund", at=at,
                                          comment="Возврат в UDS: возвращены баллы", extra=extra))
        return lines
    if state == CANCELED:  # not applied to the balance
        return []
    key = hub_key(op)
    extra = {**extra, "receipt": receipt}
    lines = []
    cashback = estimated_cashback(op)
    if cashback:
        lines.append(ProgramOperation(id=f"{op_id}:earn", points=cashback, kind="earn", at=at,
                                      key=f"{key}:earn" if key else "", extra=extra,
                                      comment=f"Кешбэк в UDS{f' (чек {receipt})' if receipt else ''}"))
    if value:
        lines.append(ProgramOperation(id=f"{op_id}:redeem", points=value, kind="redeem", at=at,
                                      key=f"{key}:redeem" if key else "", extra=extra,
                                      comment=f"Оплата баллами в UDS{f' (чек {receipt})' if receipt else ''}"))
    return lines
