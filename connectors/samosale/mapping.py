"""SamoSale's assumed API (API.md) in one place: paths, field names, error codes, and the
translation to and from the bonus-program port. When SamoSale confirms its real API, this
file (and the emulator) is what changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.ports import ProgramBalance, ProgramClient, ProgramLine, ProgramOperation

FIND_CLIENT = "/clients"  # GET ?phone=
CREATE_CLIENT = "/clients"  # POST
BALANCE = "/clients/{id}/balance"
CALCULATE = "/purchases/calculate"
PURCHASE = "/purchases"
REFUND = "/purchases/{id}/refund"
BONUSES = "/clients/{id}/bonuses"
OPERATIONS = "/clients/{id}/operations"
HISTORY_MAX = 100

SIGNATURE_HEADER = "X-Samosale-Signature"
BALANCE_CHANGED = "balance.changed"

#: Their error codes → what the hub tells people.
ERRORS = {
    "client_not_found": "Клиент не найден в SamoSale.",
    "purchase_not_found": "Покупка не найдена в SamoSale.",
    "insufficient_bonuses": "В SamoSale недостаточно бонусов.",
    "duplicate_phone": "Клиент с этим телефоном уже есть в SamoSale.",
    "conflict": "SamoSale: этот ключ операции уже использован для другой операции.",
    "validation": "SamoSale отклонил запрос.",
}
OPERATION_KINDS = {"earn": "earn", "redeem": "redeem", "refund": "refund", "expire": "expire", "manual": "adjust"}


def amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal(0)


def text(value: Decimal | int) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def client_from(data: dict[str, Any]) -> ProgramClient:
    return ProgramClient(id=str(data["id"]), phone=str(data.get("phone") or ""), name=str(data.get("name") or ""))


def balance_from(data: dict[str, Any]) -> ProgramBalance:
    expiring = []
    for item in data.get("expiring") or []:
        try:
            expiring.append((dt.date.fromisoformat(str(item["date"])[:10]), amount(item.get("amount"))))
        except (KeyError, TypeError, ValueError):
            continue
    return ProgramBalance(available=amount(data.get("available")), pending=amount(data.get("pending")),
                          expiring=tuple(expiring))


def items(lines: list[ProgramLine]) -> list[dict[str, Any]]:
    return [{"sku": line.sku, "name": line.name, "price": text(line.price), "qty": float(line.qty),
             **({"category": line.category} if line.category else {})} for line in lines]


def total(lines: list[ProgramLine]) -> str:
    return text(sum((line.amount for line in lines), Decimal(0)))


def _time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def operation_from(data: dict[str, Any], purchase_keys: dict[str, str]) -> ProgramOperation:
    """``purchase_keys``: their purchase id → our confirm key, to name a purchase's lines the
    way the hub keyed them (``<key>:earn`` / ``<key>:redeem``)."""
    kind = OPERATION_KINDS.get(str(data.get("type")), "adjust")
    points = amount(data.get("amount"))
    key = str(data.get("external_id") or "")
    purchase = str(data.get("purchase_id") or "")
    if kind in ("earn", "redeem") and key:
        key = f"{key}:{kind}"
    elif kind in ("earn", "redeem") and purchase in purchase_keys:
        key = f"{purchase_keys[purchase]}:{kind}"
    elif kind == "refund" and key:
        key = f"{key}:{'return' if points > 0 else 'cancel'}"
    return ProgramOperation(id=str(data["id"]), points=points, kind=kind, comment=str(data.get("comment") or ""),
                            at=_time(data.get("created_at")), key=key)
