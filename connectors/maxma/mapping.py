"""MAXMA's (CloudLoyalty's) processing API in one place: operation names, field names, error
codes and the translation to and from the bonus-program port. When MAXMA's behaviour differs
from what the emulator assumed, this file (and the emulator) is what changes.

Clients are named by their phone number (``phoneNumber``): it is the client's id at the hub.
Bonuses are whole numbers (1 bonus = 1 rouble)."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.ports import ProgramBalance, ProgramClient, ProgramError, ProgramLine, ProgramOperation

# operations: every one is ``POST /<operation>`` -------------------------------------------------
NEW_CLIENT = "new-client"
GET_BALANCE = "get-balance"
CALCULATE = "v2/calculate-purchase"
SET_PURCHASE = "set-purchase"
CONFIRM_TICKET = "confirm-ticket"
CALCULATE_RETURN = "calculate-return"
APPLY_RETURN = "apply-return"
ADJUST_BALANCE = "adjust-balance"
BONUS_HISTORY = "get-bonus-history"

KEY_HEADER = "X-Processing-Key"
HISTORY_MAX = 100  # pagination.limit at most
CHECK_PHONE = "+70000000000"  # asked by check(): an unknown client is an answer

# errorCode (errors.go) -------------------------------------------------------------------------
ERR_GENERAL = 1  # MAXMA answers a wrong processing key with it
ERR_MALFORMED = 2
ERR_CLIENT_NOT_FOUND = 3
ERR_BONUS_AMOUNT = 6
ERR_RETURN_ITEM = 10
ERR_RETURN_AMOUNT = 11
ERR_RETURN_PURCHASE = 13
ERR_ALREADY_PROCESSED = 17
ERR_EMPTY_ROWS = 18
ERR_PHONE = 20
ERR_PURCHASE_NOT_FOUND = 21
ERR_PURCHASE_DISCARDED = 22
ERR_DUPLICATE_PHONE = 24
ERR_DUPLICATE_CARD = 25
ERR_EMPTY_PHONE = 29
ERR_DUPLICATE_EXTERNAL_ID = 30
ERR_PROMOCODE = 33
ERR_DUPLICATE_EMAIL = 48

#: Their error codes → what the hub tells people (admin, CRM note, cashier).
ERRORS = {
    ERR_GENERAL: "MAXMA не принял ключ обработки (X-Processing-Key): проверьте ключ в настройках подключения.",
    ERR_MALFORMED: "MAXMA не понял запрос хаба.",
    ERR_CLIENT_NOT_FOUND: "Клиент не найден в MAXMA.",
    ERR_BONUS_AMOUNT: "MAXMA: столько баллов списать нельзя — недостаточно баллов или больше лимита программы.",
    ERR_RETURN_ITEM: "MAXMA: таких позиций нет в покупке или они уже возвращены.",
    ERR_RETURN_AMOUNT: "MAXMA: сумма возврата больше, чем осталось вернуть по покупке.",
    ERR_RETURN_PURCHASE: "MAXMA: покупка ещё не подтверждена, вернуть её нельзя.",
    ERR_ALREADY_PROCESSED: "MAXMA: операция уже проведена.",
    ERR_EMPTY_ROWS: "MAXMA: в чеке нет позиций.",
    ERR_PHONE: "MAXMA не распознал номер телефона клиента.",
    ERR_PURCHASE_NOT_FOUND: "Покупка не найдена в MAXMA.",
    ERR_PURCHASE_DISCARDED: "MAXMA: покупка отменена (чек аннулирован).",
    ERR_DUPLICATE_PHONE: "Клиент с этим телефоном уже есть в MAXMA.",
    ERR_DUPLICATE_CARD: "Эта карта уже выдана другому клиенту MAXMA.",
    ERR_EMPTY_PHONE: "MAXMA: у клиента не указан телефон.",
    ERR_DUPLICATE_EXTERNAL_ID: "Клиент с этим внешним кодом уже есть в MAXMA.",
    ERR_PROMOCODE: "MAXMA: промокод не найден.",
    ERR_DUPLICATE_EMAIL: "Клиент с этим email уже есть в MAXMA.",
}
NOT_ENOUGH = "В MAXMA недостаточно баллов для списания."


def error_text(code: int) -> str:
    return ERRORS.get(code, f"MAXMA отклонил запрос (код ошибки {code}).")


# webhooks ----------------------------------------------------------------------------------------
EVENT_BONUSES_CHANGED = "EVENT_CLIENT_BONUSES_CHANGED"
EVENT_CLIENT_NEW = "EVENT_CLIENT_NEW"
EVENT_CLIENT_CHANGED = "EVENT_CLIENT_CHANGED"
CLIENT_EVENTS = frozenset({EVENT_BONUSES_CHANGED, EVENT_CLIENT_NEW, EVENT_CLIENT_CHANGED})


def event_phone(event: dict[str, Any]) -> str:
    """The client's phone an event names ("" when none): the current one for a changed client."""
    body = event.get(str(event.get("event")))
    if not isinstance(body, dict):
        return ""
    for part in ("clientData", "client"):  # EVENT_CLIENT_CHANGED: clientData is after, client before
        data = body.get(part)
        if isinstance(data, dict) and isinstance(data.get("phoneNumber"), str) and data["phoneNumber"].strip():
            return data["phoneNumber"].strip()
    return ""


# history -----------------------------------------------------------------------------------------
APPLIED = "OPERATION_APPLIED"  # bonuses paid for a purchase (−)
COLLECTED = "OPERATION_COLLECTED"  # bonuses earned on a purchase (+)
REFUNDED = "OPERATION_REFUNDED"  # paid bonuses back on a return (+)
CANCELLED = "OPERATION_CANCELLED"  # earned bonuses taken back on a return (−)
EXPIRED = "OPERATION_EXPIRED"
RECEIVED = "OPERATION_RECEIVED"  # a grant: manual (actionName "Корректировка") or a campaign's
RECALLED = "OPERATION_RECALLED"  # a deduction
ADJUSTMENT_ACTION = "Корректировка"
HUB_MARKER = "[hub:"  # adjust-balance has no idempotency key: the hub's key rides in the comment
COMMENT_MAX = 255  # MAXMA publishes no limit; the marker is never the part cut off


# values ------------------------------------------------------------------------------------------
CENT = Decimal("0.01")
TXID_MAX = 128  # the hub keeps the txid as the purchase's id (ProgramOrder.external_id)


def amount(value: Any) -> Decimal:
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        return Decimal(0)
    return number.quantize(CENT) if number.is_finite() else Decimal(0)


def whole(points: Decimal | int, what: str) -> int:
    """MAXMA counts bonuses in whole units: 12.50 is refused here, clearly, not rounded."""
    value = Decimal(str(points))
    if value != value.to_integral_value():
        raise ProgramError(f"MAXMA работает только с целыми баллами: {what} {value} нельзя.", code="fractional")
    return int(value)


def money(value: Decimal) -> float:
    return float(Decimal(str(value)).quantize(CENT))


def txid(key: str, what: str = "покупки") -> str:
    """A purchase's txid (a return's id) is the hub's key itself, so MAXMA's history lines carry
    the key back. Not shortened or hashed: a changed key would not match the hub's entries. The
    hub keeps it as the operation's id in the program (128 characters at most)."""
    if not key or len(key) > TXID_MAX:
        raise ProgramError(f"Ключ {what} пуст или длиннее {TXID_MAX} символов: MAXMA его не примет.",
                           code="txid")
    return key


def phone_query(client: ProgramClient) -> dict[str, str]:
    return {"phoneNumber": client.id}


def client_from(data: dict[str, Any]) -> ProgramClient:
    phone = str(data.get("phoneNumber") or "")
    name = str(data.get("fullName") or " ".join(
        str(data[k]) for k in ("name", "surname") if data.get(k)))
    return ProgramClient(id=phone, phone=phone, name=name)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(str(value)[:10])
        except ValueError:
            return None


def _time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def balance_from(data: dict[str, Any]) -> ProgramBalance:
    """get-balance: ``client.bonuses`` spendable, ``client.pendingBonuses`` not yet; ``bonuses[]``
    dates only what burns soon (MAXMA: within 50 days), the rest comes undated."""
    client = data.get("client") if isinstance(data.get("client"), dict) else {}
    expiring = []
    for item in data.get("bonuses") or []:
        day = _date(item.get("expireAt")) if isinstance(item, dict) and item.get("expireAt") else None
        if day is not None:
            expiring.append((day, amount(item.get("amount"))))
    return ProgramBalance(available=amount(client.get("bonuses")), pending=amount(client.get("pendingBonuses")),
                          expiring=tuple(sorted(expiring)))


def calculation_query(client: ProgramClient, lines: list[ProgramLine], redeem: int,
                      shop: dict[str, str]) -> dict[str, Any]:
    """The check as MAXMA prices it. Nothing time-dependent in it: the same order asked again
    is the same query, so set-purchase answers a retry with the same ticket."""
    return {"client": phone_query(client), "shop": shop, "applyBonuses": redeem,
            "rows": [{"id": str(n), "product": {"sku": line.sku, "title": line.name, "blackPrice": money(line.price),
                                                **({"category": line.category} if line.category else {})},
                      "qty": float(line.qty)} for n, line in enumerate(lines, 1)]}


def total(lines: list[ProgramLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal(0)).quantize(CENT)


def with_marker(comment: str, key: str) -> str:
    marker = f" {HUB_MARKER}{key}]"
    return (comment[:max(COMMENT_MAX - len(marker), 0)] + marker).strip()


def split_marker(comment: str) -> tuple[str, str]:
    """(comment without the hub's marker, the key in it or "")."""
    text = comment.rstrip()
    head, found, key = text.rpartition(HUB_MARKER)
    if not found or not key.endswith("]") or len(key) < 2:
        return comment, ""
    return head.rstrip(), key[:-1]


def _detail(row: dict[str, Any]) -> dict[str, Any]:
    detail = row.get(str(row.get("operation")))
    return detail if isinstance(detail, dict) else {}


def signature(row: dict[str, Any]) -> str:
    """What makes one history line itself, from fields that never change once written."""
    detail = _detail(row)
    return "|".join(str(part) for part in (row.get("at"), row.get("operation"), amount(row.get("amount")),
                                           detail.get("purchaseId") or "", detail.get("returnId") or "",
                                           detail.get("comment") or ""))


def operation_id(client_id: str, row: dict[str, Any], repeat: int) -> str:
    """MAXMA gives history lines no id. Ours: a hash of the client and the line's own fields
    (time, operation, amount, purchase / return id, comment) and ``repeat`` — how many
    identical lines are older than this one — so two equal grants in one second stay two.
    Neither the line's position (shifted by anything inserted before it) nor its payload as a
    whole (new fields in a new API version) is part of it: it is the same id on every read."""
    digest = hashlib.sha256(f"{client_id}|{signature(row)}|{repeat}".encode()).hexdigest()
    return f"mx-{digest[:32]}"


def key_id(client_id: str, key: str) -> str:
    """An id for an adjustment made but not found in the history right after (not expected)."""
    return f"mx-k-{hashlib.sha256(f'{client_id}|{key}'.encode()).hexdigest()[:32]}"


def operation_from(client_id: str, row: dict[str, Any], repeat: int = 0) -> ProgramOperation:
    operation = str(row.get("operation") or "")
    detail = _detail(row)
    points = amount(row.get("amount"))
    purchase = str(detail.get("purchaseId") or "")
    return_id = str(detail.get("returnId") or "")
    name = str(row.get("operationName") or "")
    comment, key = str(detail.get("comment") or ""), ""
    if operation in (APPLIED, COLLECTED):
        kind = "redeem" if operation == APPLIED else "earn"
        key = f"{purchase}:{kind}" if purchase else ""
        comment = comment or (f"{name} {purchase}".strip() if purchase else name)
    elif operation in (REFUNDED, CANCELLED):
        kind = "refund"
        key = f"{return_id}:{'return' if operation == REFUNDED else 'cancel'}" if return_id else ""
        comment = comment or (f"{name} (возврат {return_id})" if return_id else name)
    elif operation == EXPIRED:
        kind = "expire"
        comment = comment or name
    elif operation == RECEIVED and detail.get("actionName") != ADJUSTMENT_ACTION:
        kind = "earn"  # a campaign's accrual, made by MAXMA itself
        comment = comment or name
    else:  # a manual grant or deduction: the hub's (marker) or the venue's
        kind = "adjust"
        comment, key = split_marker(comment)
    extra = {"operation": operation, **({"purchase_id": purchase} if purchase else {}),
             **({"return_id": return_id} if return_id else {})}
    return ProgramOperation(id=operation_id(client_id, row, repeat), points=points, kind=kind, comment=comment,
                            at=_time(row.get("at")), key=key, extra=extra)


def operations_from(client_id: str, rows: list[dict[str, Any]], older: list[dict[str, Any]]) -> list[ProgramOperation]:
    """``rows`` newest first; ``older``: the lines right after them that share the last one's
    time, to count identical lines across a page boundary."""
    result = []
    for n, row in enumerate(rows):
        mark = signature(row)
        repeat = sum(1 for other in [*rows[n + 1:], *older] if signature(other) == mark)
        result.append(operation_from(client_id, row, repeat))
    return result
