"""UDS as a bonus program (the port of ``loyalty.ports``).

UDS gives the hub one idempotency handle, the purchase's ``nonce``; the rest is made safe here:
- a purchase: ``nonce`` = uuid5 of the hub's key and ``receipt.number`` = the key, so a retry is
  the same purchase and its history lines name the hub's key;
- a refund: before refunding, the purchase's reversals in the history are looked at; one that
  matches (the same part, or the purchase refunded in full for a full refund) is the answer;
- a reward: the hub's key rides at the end of the comment (`` [hub:<key>]``) and a reward
  carrying it in the recent history is the answer instead of a second grant.
Clients join in the UDS app only: a partner cannot register them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from connectors.uds import mapping
from connectors.uds.client import UdsClient
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


class UdsProgram:
    title = "UDS"

    def __init__(self, connection: Connection) -> None:
        self.client = UdsClient(connection)
        self.silent = bool(connection.settings.get("silent_rewards", False))  # no push to the client's app

    # customers --------------------------------------------------------------------------
    def check(self) -> str:
        data = self.client.call("GET", mapping.SETTINGS)
        about = f"Компания «{data.get('name') or data.get('id')}»."
        if data.get("purchaseByPhone") is False:
            about += " Внимание: покупки по номеру телефона выключены в UDS Business — хаб не сможет их провести."
        elif data.get("usePointsByPhone") is False:
            about += " Внимание: списание баллов по номеру телефона выключено в UDS Business."
        return about

    def find_client(self, phone: str) -> ProgramClient | None:
        try:
            data = self.client.call("GET", mapping.FIND_CUSTOMER, params={"phone": phone})
        except ClientNotFound:
            return None
        user = data.get("user") or {}
        if (user.get("participant") or {}).get("id") is None:
            return None  # a UDS user, not (yet) a customer of this company
        client = mapping.client_from(user)
        return client if client.phone else dataclasses.replace(client, phone=phone)

    def create_client(self, phone: str, *, name: str = "", birth_date: dt.date | None = None,
                      email: str = "") -> ProgramClient:
        raise ProgramError(mapping.CANNOT_REGISTER, code="cannot_register")

    def _user(self, client: ProgramClient) -> dict[str, Any]:
        if client.id:
            return self.client.call("GET", mapping.CUSTOMER.format(id=client.id))
        user = self.client.call("GET", mapping.FIND_CUSTOMER, params={"phone": client.phone}).get("user")
        if not isinstance(user, dict):
            raise ClientNotFound(mapping.ERRORS["notFound"], code="notFound")
        return user

    def _phone(self, client: ProgramClient) -> str:
        """Purchases go by the participant's phone (a payment code needs the client at the till)."""
        if client.phone:
            return client.phone
        phone = str(self._user(client).get("phone") or "")
        if not phone:
            raise ProgramError("У клиента в UDS нет телефона, а хаб проводит покупки по телефону.", code="no_phone")
        return phone

    def balance(self, client: ProgramClient) -> ProgramBalance:
        return mapping.balance_from(self._user(client))

    # purchases ----------------------------------------------------------------------------
    def _calc(self, phone: str, total: Decimal, redeem: Decimal) -> dict[str, Any]:
        return self.client.call("POST", mapping.CALCULATE, json={
            "participant": {"phone": phone},
            "receipt": {"total": mapping.number(total), "points": mapping.points(redeem)}})

    def calculate(self, client: ProgramClient, lines: list[ProgramLine], redeem: Decimal) -> ProgramQuote:
        data = self._calc(self._phone(client), mapping.total(lines), redeem)
        purchase = data.get("purchase") or {}
        participant = (data.get("user") or {}).get("participant") or {}
        return ProgramQuote(total=mapping.amount(purchase.get("total")),
                            max_points=mapping.amount(purchase.get("maxPoints")),
                            earn_points=mapping.amount(purchase.get("cashBack")),
                            balance=mapping.amount(participant["points"]) if "points" in participant else None)

    def confirm(self, client: ProgramClient, key: str, lines: list[ProgramLine], redeem: Decimal,
                ) -> ProgramPurchase:
        """UDS does not report a purchase's cashback: it is asked for (``calc``) just before. A
        retry whose calc is refused (the points were spent by the first attempt) still sends
        the purchase: the nonce makes UDS answer the first one, or refuse it for good."""
        phone = self._phone(client)
        total = mapping.total(lines)
        redeem = redeem.quantize(mapping.CENT)
        quote: dict[str, Any] | None = None
        try:
            quote = self._calc(phone, total, redeem).get("purchase") or {}
        except ProgramError as exc:
            if exc.retryable:
                raise
        op = self.client.call("POST", mapping.OPERATIONS, json={
            "nonce": mapping.nonce(key), "participant": {"phone": phone},
            "receipt": {"total": mapping.number(total), "cash": mapping.number(total - redeem),
                        "points": mapping.points(redeem), "number": mapping.receipt_number(key)}})
        redeemed = -mapping.amount(op.get("points"))
        if quote is not None and mapping.amount(quote.get("cash")) == mapping.amount(op.get("cash")):
            earned = mapping.amount(quote.get("cashBack"))
        else:
            earned = mapping.estimated_cashback(op)
        return ProgramPurchase(id=str(op["id"]), redeemed=redeemed, earned=earned)

    # refunds --------------------------------------------------------------------------------
    def refund(self, purchase_id: str, key: str, amount: Decimal | None = None, *,
               paid_left: Decimal | None = None) -> ProgramRefund:
        """UDS refunds carry no key: a reversal of this purchase already in the history (the same
        part; for a full refund, the purchase refunded in full) is this refund done before.
        The refund's id is the reversal's operation id."""
        origin = self.client.call("GET", mapping.OPERATION.format(id=purchase_id))
        if origin.get("action") != mapping.PURCHASE or origin.get("state") != mapping.NORMAL:
            raise ProgramError(f"Операция UDS {purchase_id} — не покупка, её нельзя вернуть.", code="not_purchase")
        reversals = self._reversals(origin)
        whole = mapping.amount(origin.get("total"))
        refunded = sum((abs(mapping.amount(r.get("total"))) for r in reversals), Decimal(0))
        if amount is None and reversals and refunded >= whole:
            return self._refund_from(reversals[0], origin)
        if amount is not None:
            part = amount.quantize(mapping.CENT)
            same = next((r for r in reversals if abs(mapping.amount(r.get("total"))) == part), None)
            if same is not None:
                return self._refund_from(same, origin)
        customer = mapping.customer_id(origin)
        before = self._points(customer)
        body = {} if amount is None else {"partialAmount": mapping.number(amount)}
        try:
            reversal = self.client.call("POST", mapping.REFUND.format(id=purchase_id), json=body)
        except ProgramError as exc:
            if exc.code == "badRequest" and amount is None and reversals:  # refunded in full meanwhile
                return self._refund_from(reversals[0], origin)
            if exc.code == "badRequest" and amount is None:
                raise ProgramError(f"{mapping.REFUNDED_ALREADY} ({exc.message})", code="refunded") from exc
            raise
        returned = mapping.amount(reversal.get("points"))
        cancelled = mapping.estimated_reclaim(reversal, origin)
        after = self._points(customer)
        if before is not None and after is not None and before + returned - after >= 0:
            cancelled = before + returned - after  # exact, unless the balance moved meanwhile
        return ProgramRefund(id=str(reversal["id"]), returned=returned, cancelled=cancelled)

    def _points(self, customer: str) -> Decimal | None:
        if not customer:
            return None
        try:
            user = self.client.call("GET", mapping.CUSTOMER.format(id=customer))
        except ProgramError:
            return None
        return mapping.amount((user.get("participant") or {}).get("points"))

    def _reversals(self, origin: dict[str, Any]) -> list[dict[str, Any]]:
        """The purchase's refunds, newest first (the history down to the purchase itself)."""
        found = []
        origin_id = str(origin["id"])
        for row in self._rows(mapping.REFUND_SCAN_PAGES):
            if str(row["id"]) == origin_id:
                break
            if row.get("state") == mapping.REVERSAL and mapping.origin_id(row) == origin_id:
                found.append(row)
        return found

    @staticmethod
    def _refund_from(reversal: dict[str, Any], origin: dict[str, Any]) -> ProgramRefund:
        return ProgramRefund(id=str(reversal["id"]), returned=mapping.amount(reversal.get("points")),
                             cancelled=mapping.estimated_reclaim(reversal, origin))

    # rewards ---------------------------------------------------------------------------------
    def adjust(self, client: ProgramClient, points: Decimal, comment: str, key: str) -> ProgramOperation:
        """``/operations/reward`` has no idempotency key and answers only how many customers it
        accepted: the key goes into the comment, and a reward carrying it is the answer."""
        value = Decimal(points).quantize(mapping.CENT)
        if value == 0:
            raise ProgramError("UDS не принимает изменение на 0 баллов.", code="zero")
        try:
            participant = int(client.id)
        except ValueError:
            raise ProgramError(f"«{client.id}» — не ID клиента UDS.", code="bad_client") from None
        done = self._reward(client, key)
        if done is not None:
            return done
        data = self.client.call("POST", mapping.REWARD, json={
            "points": mapping.points(value), "comment": mapping.marked(comment, key), "silent": self.silent,
            "participants": [participant]})
        if int(data.get("accepted") or 0) < 1:
            if value < 0:
                raise ProgramError(mapping.DEDUCTION_REFUSED, code="insufficientFunds")
            raise ProgramError(mapping.REWARD_REFUSED, code="not_accepted")
        done = self._reward(client, key, pages=1)
        if done is not None:
            return done
        # UDS accrues in the background: the line may show up later (the history names it by key)
        return ProgramOperation(id=f"reward:{key}", points=value, kind="adjust", comment=comment, key=key)

    def _reward(self, client: ProgramClient, key: str, pages: int = mapping.REWARD_SCAN_PAGES,
                ) -> ProgramOperation | None:
        for row in self._rows(pages):
            if (row.get("action") == mapping.REWARD_ACTION and mapping.customer_id(row) == client.id
                    and mapping.unmarked(row.get("comment"))[1] == key):
                return mapping.operations_from(row, {})[0]
        return None

    # history ---------------------------------------------------------------------------------
    def _rows(self, pages: int) -> Iterator[dict[str, Any]]:
        """The company's operations, newest first, at most ``pages`` pages of 50."""
        cursor, offset = None, 0
        for _ in range(pages):
            params: dict[str, Any] = {"max": mapping.HISTORY_MAX}
            if cursor:
                params["cursor"] = cursor
            elif offset:
                params["offset"] = offset
            data = self.client.call("GET", mapping.OPERATIONS, params=params)
            rows = [row for row in data.get("rows") or [] if isinstance(row, dict) and row.get("id") is not None]
            yield from rows
            offset += len(rows)
            cursor = data.get("cursor")
            more = bool(cursor) if "cursor" in data else len(rows) == mapping.HISTORY_MAX
            if not rows or not more:
                return

    def history(self, client: ProgramClient, offset: int = 0, limit: int = 50) -> list[ProgramOperation]:
        """Newest first. UDS lists the whole company's operations: they are read (up to
        ``HISTORY_SCAN_PAGES`` pages) until this client's lines cover ``offset + limit``."""
        wanted = offset + limit
        mine: list[dict[str, Any]] = []
        counted = 0
        for row in self._rows(mapping.HISTORY_SCAN_PAGES):
            if mapping.customer_id(row) != client.id:
                continue
            mine.append(row)
            counted += len(mapping.operations_from(row, {}))  # a refund's cancel line is counted below
            if counted >= wanted:
                break
        origins = self._origins(mine)
        lines = [line for row in mine for line in mapping.operations_from(row, origins)]
        return lines[offset:offset + limit]

    def _origins(self, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The purchases the refunds among ``rows`` undo (read when older than the rows read)."""
        origins = {str(row["id"]): row for row in rows if row.get("action") == mapping.PURCHASE
                   and row.get("state") != mapping.REVERSAL}
        for row in rows:
            wanted = mapping.origin_id(row) if row.get("state") == mapping.REVERSAL else ""
            if wanted and wanted not in origins:
                try:
                    origins[wanted] = self.client.call("GET", mapping.OPERATION.format(id=wanted))
                except ProgramError:
                    continue
        return origins
