"""SamoSale as a bonus program (the port of ``loyalty.ports``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from connectors.samosale import mapping
from connectors.samosale.client import SamosaleClient
from hub.models import Connection
from loyalty.ports import (
    ClientNotFound,
    ProgramBalance,
    ProgramClient,
    ProgramError,
    ProgramLine,
    ProgramOperation,
    ProgramPurchase,
    ProgramQuote,
    ProgramRefund,
)


class SamosaleProgram:
    title = "SamoSale"

    def __init__(self, connection: Connection) -> None:
        self.client = SamosaleClient(connection)

    def check(self) -> str:
        try:
            self.client.call("GET", mapping.FIND_CLIENT, params={"phone": "+70000000000"})
        except ClientNotFound:
            pass  # the key works: an unknown phone is an answer
        return "Ключ API принят."

    def find_client(self, phone: str) -> ProgramClient | None:
        try:
            data = self.client.call("GET", mapping.FIND_CLIENT, params={"phone": phone})
        except ClientNotFound:
            return None
        return mapping.client_from(data["client"])

    def create_client(self, phone: str, *, name: str = "", birth_date: dt.date | None = None,
                      email: str = "") -> ProgramClient:
        body = {"phone": phone, **({"name": name} if name else {}), **({"email": email} if email else {}),
                **({"birthdate": birth_date.isoformat()} if birth_date else {})}
        response = self.client.request("POST", mapping.CREATE_CLIENT, json=body, expected=(409,))
        data = self.client.decode_json(response)
        if response.status_code == 409 and isinstance(data.get("client"), dict):  # registered meanwhile
            return mapping.client_from(data["client"])
        if response.status_code == 409:
            raise ProgramError(mapping.ERRORS["duplicate_phone"], code="duplicate_phone")
        return mapping.client_from(data["client"])

    def balance(self, client: ProgramClient) -> ProgramBalance:
        return mapping.balance_from(self.client.call("GET", mapping.BALANCE.format(id=client.id)))

    def calculate(self, client: ProgramClient, lines: list[ProgramLine], redeem: Decimal) -> ProgramQuote:
        data = self.client.call("POST", mapping.CALCULATE, json={
            "client_id": client.id, "total": mapping.total(lines), "items": mapping.items(lines),
            "bonuses_to_use": mapping.text(redeem)})
        return ProgramQuote(total=mapping.amount(data.get("total")), max_points=mapping.amount(data.get("max_bonuses")),
                            earn_points=mapping.amount(data.get("bonuses_to_earn")))

    def confirm(self, client: ProgramClient, key: str, lines: list[ProgramLine], redeem: Decimal,
                ) -> ProgramPurchase:
        data = self.client.call("POST", mapping.PURCHASE, json={
            "client_id": client.id, "external_id": key, "total": mapping.total(lines),
            "items": mapping.items(lines), "bonuses_to_use": mapping.text(redeem)})
        purchase = data["purchase"]
        return ProgramPurchase(id=str(purchase["id"]), redeemed=mapping.amount(purchase.get("bonuses_used")),
                               earned=mapping.amount(purchase.get("bonuses_earned")))

    def refund(self, purchase_id: str, key: str, amount: Decimal | None = None, *,
               paid_left: Decimal | None = None) -> ProgramRefund:
        body = {"external_id": key, **({"amount": mapping.text(amount)} if amount is not None else {})}
        refund = self.client.call("POST", mapping.REFUND.format(id=purchase_id), json=body)["refund"]
        return ProgramRefund(id=str(refund["id"]), returned=mapping.amount(refund.get("bonuses_returned")),
                             cancelled=mapping.amount(refund.get("bonuses_cancelled")))

    def adjust(self, client: ProgramClient, points: Decimal, comment: str, key: str) -> ProgramOperation:
        data = self.client.call("POST", mapping.BONUSES.format(id=client.id), json={
            "amount": mapping.text(points), "comment": comment, "external_id": key})
        return mapping.operation_from(data["operation"], {})

    def history(self, client: ProgramClient, offset: int = 0, limit: int = 50) -> list[ProgramOperation]:
        """SamoSale lists oldest first: read the total, then the page that is ``offset`` from
        the newest end."""
        path = mapping.OPERATIONS.format(id=client.id)
        limit = min(limit, mapping.HISTORY_MAX)
        total = int(self.client.call("GET", path, params={"limit": 1, "offset": 0}).get("total") or 0)
        end = max(total - offset, 0)
        start = max(end - limit, 0)
        if end == 0:
            return []
        rows = self.client.call("GET", path, params={"limit": end - start, "offset": start}).get("items") or []
        return [mapping.operation_from(row, {}) for row in reversed(rows) if isinstance(row, dict) and "id" in row]
