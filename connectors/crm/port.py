"""The CRM port: what the hub needs from any CRM. amoCRM and Bitrix24 adapters implement
it; the shared CRM connector (connectors/crm/connector.py) speaks only this."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


@dataclass
class CrmContact:
    """A contact card as the hub writes it. ``card`` holds the hub's own fields by role
    (children, last_pass, transactions, bonus_balance, messengers, consent…), mapped to the
    CRM's custom field ids by the connection's settings."""

    first_name: str = ""
    last_name: str = ""
    middle_name: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    birth_date: dt.date | None = None
    card: dict[str, str] = field(default_factory=dict)


@dataclass
class CrmProductRow:
    name: str
    price: Decimal
    quantity: Decimal = Decimal("1")
    external_product_id: str = ""
    local_product_id: int | None = None  # the hub's Product: made a CRM catalog product once, then reused


@dataclass
class CrmDeal:
    """A deal as the hub writes it. ``fields`` are the hub's own by role, mapped to field ids by
    the connection's settings; ``field_values`` are keyed by the CRM's own deal field id and
    written as they are (features that keep their own field mapping, e.g. site events); a field
    named by both takes the ``field_values`` text."""

    title: str
    pipeline_id: str
    stage_id: str
    amount: Decimal = Decimal("0")
    contact_external_id: str = ""
    products: list[CrmProductRow] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)  # hub role → text, mapped by the connection's settings
    field_values: dict[str, str] = field(default_factory=dict)  # their deal field id → text, as is
    origin: str = ""  # what it stands for in the hub ("pass:7"): a CRM that stores an external id keeps it


@dataclass(frozen=True)
class CrmTask:
    """A to-do for a manager on a CRM contact or deal (call the client back…)."""

    entity: str  # "contact" | "deal"
    external_id: str  # their id of that contact/deal
    text: str
    deadline: dt.datetime  # aware
    responsible_id: str = ""  # their user id; "" = the CRM's default (the entity's responsible)


@dataclass(frozen=True)
class CrmProduct:
    name: str
    price: Decimal


@dataclass(frozen=True)
class Stage:
    id: str
    name: str


@dataclass(frozen=True)
class Pipeline:
    id: str
    name: str
    stages: tuple[Stage, ...]


@dataclass(frozen=True)
class CrmField:
    id: str
    name: str
    code: str = ""


@dataclass(frozen=True)
class CrmEvent:
    """What a CRM webhook said happened (the adapter fetches details later)."""

    entity: str  # "contact" | "deal"
    action: str  # "add" | "update" | "delete" | "stage"
    external_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Written:
    """What a batched write did: their ids for the keys that succeeded, the error for the rest
    (a batch can half succeed; the successes must be remembered, the failures retried)."""

    ids: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)


class CrmPort(Protocol):
    def upsert_contacts(self, items: list[tuple[str, CrmContact, str]]) -> Written:
        """(key, contact, their id or "") → their ids / errors by key. Batched by the adapter."""

    def upsert_deals(self, items: list[tuple[str, CrmDeal, str]]) -> Written:
        """(key, deal, their id or "") → their ids / errors by key, product rows attached."""

    def set_deal_fields(self, items: list[tuple[str, str, dict[str, str]]]) -> Written:
        """(key, their deal id, {their field id: value}) → only those fields of existing deals
        change (never title, stage, amount or contacts: a manager may be editing them); "" clears
        a field. Batched the CRM's way; a missing deal or a refused value fails its own key only,
        ids (key → their deal id) for the rest."""

    def add_notes(self, items: list[tuple[str, str, str]]) -> None:
        """(entity, their id, text) timeline notes."""

    def add_tasks(self, items: list[tuple[str, CrmTask]]) -> Written:
        """(key, task) → their task ids / errors by key, batched."""

    def list_pipelines(self) -> list[Pipeline]: ...

    def list_fields(self, entity: str) -> list[CrmField]: ...

    def create_field(self, entity: str, name: str, code: str = "") -> CrmField: ...

    def create_products(self, items: list[tuple[str, CrmProduct]]) -> Written:
        """(key, product) → their catalog ids. Without a product catalog configured: nothing
        written, no error (deals then carry names and prices only)."""

    def list_users(self) -> list[tuple[str, str]]:
        """(id, name) of the CRM's users: a deal's "user" field holds an id, the site wants a name."""

    def list_catalogs(self) -> list[tuple[str, str]]:
        """(id, name) of product catalogs the operator may choose from ([] when the CRM has one)."""

    def get_contact(self, external_id: str) -> dict[str, Any] | None:
        """Their contact in the port's neutral shape: first_name, last_name, phones, emails."""

    def get_contacts(self, external_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """Many contacts at once (neutral shape; None for one deleted in the CRM)."""

    def find_contacts(self, items: list[tuple[str, CrmContact, dt.datetime]]) -> dict[str, list[str]]:
        """Contacts an earlier create may have made though its answer was lost: (key, the contact as
        we create it, when that create was first sent) → their ids, oldest first, of contacts made
        since then with one of its phones or e-mails (its exact name when it has neither). Asked
        only on a retry; a key with no candidate is left out."""

    def find_deals(self, items: list[tuple[str, CrmDeal, dt.datetime]]) -> dict[str, list[str]]:
        """Deals an earlier create may have made though its answer was lost: (key, the deal as we
        create it, when that create was first sent) → their ids, oldest first: by ``origin`` where
        the CRM keeps an external id, else deals made since then in the same pipeline with the same
        title, amount and contact. Asked only on a retry; a key with no candidate is left out."""

    def get_deal(self, external_id: str) -> dict[str, Any] | None:
        """Their deal, neutral: id, title, pipeline_id, stage_id, amount, contact_id, fields
        (their field id → value as text; empty fields may be absent; how dates, lists, files and
        flags become text is in each adapter's mapping module)."""
