"""MAXMA as a bonus program (the port of ``loyalty.ports``).

A client's id is their phone number. A purchase is MAXMA's two-phase check: ``set-purchase``
(txid = the hub's key) reserves the bonuses and answers a ticket, ``confirm-ticket`` makes it
final; the purchase's id is the txid, what a return names. ``adjust-balance`` takes no
idempotency key, so the hub's key rides at the end of the comment (`` [hub:<key>]``) and the
recent history is looked through before adjusting again."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from connectors.maxma import mapping
from connectors.maxma.client import MaxmaClient, MaxmaError
from hub.models import Connection
from hub.sync.errors import SyncError
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

ADJUST_SCAN_PAGES = 3  # pages of 100 looked through for an adjustment already made
PURCHASE_SCAN_PAGES = 5  # … for the lines of a purchase already confirmed
SAME_TIME_EXTRA = 20  # lines read past a page, to tell identical lines at its edge apart
PROBE_START_CENTS = 100_00
PROBE_LIMIT_CENTS = 1_000_000_000_00


class MaxmaProgram:
    title = "MAXMA"

    def __init__(self, connection: Connection) -> None:
        self.client = MaxmaClient(connection)
        settings = connection.settings or {}
        self.shop = {"code": str(settings.get("shop_code") or "hub"), "name": str(settings.get("shop_name") or "Хаб")}

    # clients ------------------------------------------------------------------------------------
    def check(self) -> str:
        try:
            self.client.call(mapping.GET_BALANCE, {"phoneNumber": mapping.CHECK_PHONE})
        except MaxmaError:
            pass  # the key works: a refusal about the client is an answer (a bad key raises AuthError)
        return "Ключ обработки принят."

    def find_client(self, phone: str) -> ProgramClient | None:
        try:
            data = self.client.call(mapping.GET_BALANCE, {"phoneNumber": phone})
        except ClientNotFound:
            return None
        return self._client(data, phone)

    def create_client(self, phone: str, *, name: str = "", birth_date: dt.date | None = None,
                      email: str = "") -> ProgramClient:
        body = {"phoneNumber": phone, **({"fullName": name} if name else {}), **({"email": email} if email else {}),
                **({"birthdate": birth_date.isoformat()} if birth_date else {})}
        try:
            data = self.client.call(mapping.NEW_CLIENT, {"client": body})
        except MaxmaError as exc:
            if exc.number == mapping.ERR_DUPLICATE_PHONE:  # registered meanwhile (or our answer was lost)
                found = self.find_client(phone)
                if found is not None:
                    return found
            if exc.number == mapping.ERR_DUPLICATE_EMAIL and email:  # the email is someone else's there
                return self.create_client(phone, name=name, birth_date=birth_date)
            raise
        return self._client(data, phone)

    @staticmethod
    def _client(data: dict[str, Any], phone: str) -> ProgramClient:
        client = mapping.client_from(data.get("client") if isinstance(data.get("client"), dict) else {})
        if not client.id:
            raise ProgramError(f"MAXMA ответил без телефона клиента {phone}.", retryable=True)
        return client

    def balance(self, client: ProgramClient) -> ProgramBalance:
        return mapping.balance_from(self.client.call(mapping.GET_BALANCE, mapping.phone_query(client)))

    # purchases ----------------------------------------------------------------------------------
    def calculate(self, client: ProgramClient, lines: list[ProgramLine], redeem: Decimal) -> ProgramQuote:
        apply = mapping.whole(redeem, "списать")
        data = self.client.call(mapping.CALCULATE, {
            "calculationQuery": mapping.calculation_query(client, lines, apply, self.shop)})
        result = data.get("calculationResult") if isinstance(data.get("calculationResult"), dict) else {}
        bonuses = result.get("bonuses") if isinstance(result.get("bonuses"), dict) else {}
        max_points = mapping.amount(bonuses.get("maxToApply"))
        error = bonuses.get("error")
        if isinstance(error, dict) and error.get("code"):
            if apply > max_points:
                raise ProgramError(self._too_many_text(apply, max_points), code=str(mapping.ERR_BONUS_AMOUNT))
            code = int(error["code"]) if str(error["code"]).isdigit() else -1
            detail = str(error.get("hint") or error.get("description") or "")
            raise ProgramError(f"{mapping.error_text(code)} ({detail})" if detail else mapping.error_text(code),
                               code=str(code))
        return ProgramQuote(total=mapping.total(lines), max_points=max_points,
                            earn_points=mapping.amount(bonuses.get("collected")),
                            balance=self.balance(client).available)

    @staticmethod
    def _too_many_text(apply: int, max_points: Decimal) -> str:
        return (f"Нельзя оплатить баллами {apply}: по этому чеку MAXMA позволяет списать не больше "
                f"{max_points.normalize():f} (баланс клиента и лимит программы).")

    def confirm(self, client: ProgramClient, key: str, lines: list[ProgramLine], redeem: Decimal,
                ) -> ProgramPurchase:
        txid = mapping.txid(key)
        apply = mapping.whole(redeem, "списать")
        query = mapping.calculation_query(client, lines, apply, self.shop)
        try:
            reply = self.client.call(mapping.SET_PURCHASE, {"txid": txid, "calculationQuery": query})
        except MaxmaError as exc:
            if exc.number == mapping.ERR_ALREADY_PROCESSED:  # confirmed before, its answer lost
                return self._confirmed(client, txid)
            if exc.number == mapping.ERR_BONUS_AMOUNT:
                raise self._too_many(client, lines, apply, exc) from exc
            raise
        ticket = str(reply.get("ticket") or "")
        if not ticket:
            raise ProgramError("MAXMA не выдал чек (ticket) на покупку.", retryable=True)
        try:
            self.client.call(mapping.CONFIRM_TICKET, {"txid": txid, "ticket": ticket})
        except MaxmaError as exc:
            if exc.number == mapping.ERR_ALREADY_PROCESSED:
                return self._confirmed(client, txid)
            if exc.number == mapping.ERR_PURCHASE_DISCARDED:  # a parallel retry punched the check again
                raise ProgramError("MAXMA: чек заменён параллельной попыткой; покупка будет повторена.",
                                   code=exc.code, retryable=True) from exc
            raise
        result = reply.get("calculationResult") if isinstance(reply.get("calculationResult"), dict) else {}
        bonuses = result.get("bonuses") if isinstance(result.get("bonuses"), dict) else {}
        return ProgramPurchase(id=txid, redeemed=mapping.amount(bonuses.get("applied")),
                               earned=mapping.amount(bonuses.get("collected")))

    def _too_many(self, client: ProgramClient, lines: list[ProgramLine], apply: int, exc: MaxmaError) -> ProgramError:
        """set-purchase refused the bonuses: say how many this check allows."""
        try:
            quote = self.calculate(client, lines, Decimal(0))
        except (ProgramError, SyncError):
            return ProgramError(f"{mapping.error_text(mapping.ERR_BONUS_AMOUNT)} ({exc.hint or exc.description})",
                                code=exc.code)
        return ProgramError(self._too_many_text(apply, quote.max_points), code=exc.code)

    def _confirmed(self, client: ProgramClient, txid: str) -> ProgramPurchase:
        """A purchase MAXMA has confirmed already: what it paid and earned, from its history lines.
        None found (nothing paid or earned, or too old to look up) is zero here; the lines, keyed
        ``<txid>:redeem`` / ``:earn``, still reach the hub's ledger with the next sync."""
        redeemed = earned = Decimal(0)
        for page_no in range(PURCHASE_SCAN_PAGES):
            page = self.history(client, offset=page_no * mapping.HISTORY_MAX, limit=mapping.HISTORY_MAX)
            mine = [op for op in page if op.extra.get("purchase_id") == txid and op.kind in ("earn", "redeem")]
            for op in mine:
                if op.kind == "redeem":
                    redeemed -= op.points
                else:
                    earned += op.points
            if len(page) < mapping.HISTORY_MAX or (mine and page[-1] not in mine):
                break
        return ProgramPurchase(id=txid, redeemed=redeemed, earned=earned)

    def refund(self, purchase_id: str, key: str, amount: Decimal | None = None, *,
               paid_left: Decimal | None = None) -> ProgramRefund:
        """apply-return is idempotent by its transaction id (the hub's key). ``amount`` None: all
        the money still paid; MAXMA needs it as a number: the hub's ``paid_left`` when it knows
        it, else found with calculate-return (read-only: the largest amount MAXMA accepts)."""
        return_id = mapping.txid(key, "возврата")
        if amount is not None:
            refund_amount = mapping.money(amount)
        elif paid_left is not None and paid_left > 0:
            refund_amount = mapping.money(paid_left)
        else:
            remaining = self._remaining(purchase_id)
            # Nothing left: a retry of this very return gets its stored answer; otherwise MAXMA says so.
            refund_amount = float(remaining) if remaining else float(mapping.CENT)
        data = self.client.call(mapping.APPLY_RETURN, {"transaction": {
            "id": return_id, "purchaseId": purchase_id, "refundAmount": refund_amount,
            "executedAt": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "shopCode": self.shop["code"], "shopName": self.shop["name"]}})
        confirmation = data.get("confirmation") if isinstance(data.get("confirmation"), dict) else {}
        return ProgramRefund(id=str(confirmation.get("refundId") or return_id),
                             returned=mapping.amount(confirmation.get("recoveredBonuses")),
                             cancelled=mapping.amount(confirmation.get("cancelledBonuses")))

    def _remaining(self, purchase_id: str) -> Decimal | None:
        """The money of the purchase not returned yet (None: nothing), to the cent: the largest
        refundAmount calculate-return accepts (MAXMA refuses more with code 11)."""

        def accepts(cents: int) -> bool:
            try:
                self.client.call(mapping.CALCULATE_RETURN, {"calculate": {
                    "purchaseId": purchase_id, "refundAmount": cents / 100}})
            except MaxmaError as exc:
                if exc.number == mapping.ERR_RETURN_AMOUNT:
                    return False
                raise
            return True

        if not accepts(1):
            return None
        low, high = 1, PROBE_START_CENTS
        while accepts(high):
            low = high
            if high >= PROBE_LIMIT_CENTS:  # a program that caps the amount itself: ask for everything
                return Decimal(high) / 100
            high *= 10
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if accepts(middle) else (low, middle)
        return Decimal(low) / 100

    # manual changes -----------------------------------------------------------------------------
    def adjust(self, client: ProgramClient, points: Decimal, comment: str, key: str) -> ProgramOperation:
        delta = mapping.whole(points, "начислить или списать")
        if delta == 0:
            raise ProgramError("MAXMA: изменение на 0 баллов не имеет смысла.", code=str(mapping.ERR_BONUS_AMOUNT))
        done = self._marked(client, key, ADJUST_SCAN_PAGES)
        if done is not None:
            return self._same(done, delta, key)
        try:
            self.client.call(mapping.ADJUST_BALANCE, {"client": mapping.phone_query(client), "balanceAdjustment": {
                "amountDelta": delta, "comment": mapping.with_marker(comment, key)}})
        except MaxmaError as exc:
            if exc.number == mapping.ERR_BONUS_AMOUNT and delta < 0:
                raise ProgramError(f"{mapping.NOT_ENOUGH} Списать {-delta} нельзя"
                                   f"{f' ({exc.hint})' if exc.hint else '.'}", code=exc.code) from exc
            raise
        done = self._marked(client, key, 1)
        if done is not None:
            return done
        return ProgramOperation(id=mapping.key_id(client.id, key), points=Decimal(delta),
                                kind="adjust", comment=comment, key=key)

    def _marked(self, client: ProgramClient, key: str, pages: int) -> ProgramOperation | None:
        for page_no in range(pages):
            page = self.history(client, offset=page_no * mapping.HISTORY_MAX, limit=mapping.HISTORY_MAX)
            found = next((op for op in page if op.kind == "adjust" and op.key == key), None)
            if found is not None or len(page) < mapping.HISTORY_MAX:
                return found
        return None

    @staticmethod
    def _same(done: ProgramOperation, delta: int, key: str) -> ProgramOperation:
        if done.points != Decimal(delta):
            raise ProgramError(f"MAXMA: ключ {key!r} уже использован для изменения на {done.points} баллов.",
                               code="conflict")
        return done

    # history ------------------------------------------------------------------------------------
    def history(self, client: ProgramClient, offset: int = 0, limit: int = 50) -> list[ProgramOperation]:
        """Newest first, as MAXMA lists it. Lines just past the page that share the time of its
        last line are read too, so identical lines at the edge get the same ids on every read."""
        if limit <= 0:
            return []
        rows = self._rows(client, offset, limit + SAME_TIME_EXTRA)
        window, after = rows[:limit], rows[limit:]
        if not window:
            return []
        last_at = window[-1].get("at")
        older = list(itertools.takewhile(lambda row: row.get("at") == last_at, after))
        position = offset + len(rows)
        goes_on = len(older) == len(after) == SAME_TIME_EXTRA  # the same second goes on past what was read
        while goes_on:
            after = self._rows(client, position, mapping.HISTORY_MAX)
            same = list(itertools.takewhile(lambda row: row.get("at") == last_at, after))
            older.extend(same)
            position += len(after)
            goes_on = len(same) == len(after) == mapping.HISTORY_MAX
        return mapping.operations_from(client.id, window, older)

    def _rows(self, client: ProgramClient, offset: int, count: int) -> list[dict[str, Any]]:
        """``count`` history lines from ``offset`` (fewer at the end), in pages MAXMA allows."""
        rows: list[dict[str, Any]] = []
        while count > 0:
            size = min(count, mapping.HISTORY_MAX)
            data = self.client.call(mapping.BONUS_HISTORY, {"client": mapping.phone_query(client),
                                                            "pagination": {"limit": size, "offset": offset}})
            page = data.get("history") if isinstance(data.get("history"), list) else []
            rows.extend(row if isinstance(row, dict) else {} for row in page)
            if len(page) < size:
                break
            offset, count = offset + size, count - size
        return rows
