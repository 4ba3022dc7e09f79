"""The bonus-program port: what the hub needs from an external bonus program (SamoSale, UDS,
MAXMA…) when that program, not the hub, is the ledger of record.

Defined here, by the domain that uses it; connectors implement it (``connectors/<program>/
adapter.py``) and hand it out through ``Connector.bonus_program(connection)``. Amounts are
points as ``Decimal`` with 2 places; every write carries the hub's idempotency key so a
retried call is the same operation and the program's history can be matched to ours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


class ProgramError(Exception):
    """The program refused or failed. ``message`` is for people (admin, CRM note, cashier);
    ``retryable`` says whether the same call may succeed later (outages, rate limits)."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.retryable, self.retry_after = message, code, retryable, retry_after


class ClientNotFound(ProgramError):
    pass


@dataclass(frozen=True)
class ProgramClient:
    id: str
    phone: str = ""
    name: str = ""


@dataclass(frozen=True)
class ProgramBalance:
    available: Decimal
    pending: Decimal = Decimal(0)  # earned, not spendable yet (locked for returns)
    expiring: tuple[tuple[dt.date, Decimal], ...] = ()  # the next burn dates


@dataclass(frozen=True)
class ProgramLine:
    sku: str
    name: str
    price: Decimal  # per unit
    qty: Decimal = Decimal(1)
    category: str = ""

    @property
    def amount(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True)
class ProgramQuote:
    total: Decimal
    max_points: Decimal  # payable by points now
    earn_points: Decimal  # earned on the money part, with ``redeem`` points applied
    balance: Decimal | None = None


@dataclass(frozen=True)
class ProgramPurchase:
    id: str  # the program's id: what a refund names
    redeemed: Decimal
    earned: Decimal


@dataclass(frozen=True)
class ProgramRefund:
    id: str
    returned: Decimal  # redeemed points given back
    cancelled: Decimal  # earned points taken back


@dataclass(frozen=True)
class ProgramOperation:
    """One line of the program's history, as the change of the client's points."""

    id: str
    points: Decimal  # signed
    kind: str  # earn | redeem | refund | expire | adjust
    comment: str = ""
    at: dt.datetime | None = None
    # The hub's idempotency key when the hub made this operation: the key given to ``adjust``;
    # ``<confirm key>:earn`` / ``:redeem`` for a purchase's lines; ``<refund key>:return`` /
    # ``:cancel`` for a refund's. Empty for operations made elsewhere (at the venue's till).
    key: str = ""
    extra: dict = field(default_factory=dict, compare=False)


class BonusProgram(Protocol):
    title: str

    def check(self) -> str:
        """A short description of the account; raises ProgramError when it does not answer."""

    def find_client(self, phone: str) -> ProgramClient | None: ...

    def create_client(self, phone: str, *, name: str = "", birth_date: dt.date | None = None,
                      email: str = "") -> ProgramClient:
        """Raises ProgramError when the program does not let a partner register clients."""

    def balance(self, client: ProgramClient) -> ProgramBalance: ...

    def calculate(self, client: ProgramClient, lines: list[ProgramLine], redeem: Decimal) -> ProgramQuote: ...

    def confirm(self, client: ProgramClient, key: str, lines: list[ProgramLine], redeem: Decimal,
                ) -> ProgramPurchase:
        """Redeem and earn for one order; the same key again is the same purchase."""

    def refund(self, purchase_id: str, key: str, amount: Decimal | None = None, *,
               paid_left: Decimal | None = None) -> ProgramRefund:
        """``amount``: the part of the order's total returned (None: all that is left);
        ``paid_left``: the money paid for the order and not refunded yet, as the hub knows it
        (for programs that must be told a full refund's amount). The same key again is the
        same refund."""

    def adjust(self, client: ProgramClient, points: Decimal, comment: str, key: str) -> ProgramOperation:
        """A manual grant (positive) or deduction (negative); the same key is done once."""

    def history(self, client: ProgramClient, offset: int = 0, limit: int = 50) -> list[ProgramOperation]:
        """Newest first."""
