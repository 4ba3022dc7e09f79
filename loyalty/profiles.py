"""One client, many programs and venues: everything the hub holds for a person who may be
several contact records — merged duplicates, records that share a phone, e-mail or card —
with their bonus accounts in every program, cards and ids in every connected system.

Read-only, for the contact's "all programs and venues" page; a fixed number of queries
however many accounts, cards or external ids the client has.

Linked contacts are:
- the contact itself, every contact merged into it (at any depth), the one it was merged
  into and everything merged into that (the merge family);
- contacts holding one of the family's phones or e-mails (``Contact.phone``/``email`` or a
  ``ContactIdentity`` of that kind; compared normalised);
- contacts recorded with one of the family's cards, or whose card the family used: a
  purchase or pass made with a card that is another contact's. Card codes are unique in the
  hub and ``ExternalRef(kind="card")`` (Lime) keeps only the card's id there, not its holder,
  so the receipts and passes are where a card "recorded for another contact" shows;
- and the merge families of those.
Parents, children and siblings (family links) are never linked by a shared phone, e-mail or
card: tickets systems put a parent's phone and card on a child's records.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection as db
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from hub.models import Card, Contact, ContactIdentity, ContactRelation, ExternalRef, Pass, Purchase
from hub.services.normalize import phone_key
from loyalty.models import Account, Receipt

SELF, MERGED, PHONE, EMAIL, CARD = "self", "merged", "phone", "email", "card"
REASONS = {SELF: _("this contact"), MERGED: _("merged record"), PHONE: _("same phone"), EMAIL: _("same e-mail"),
           CARD: _("same card")}


@dataclass(frozen=True)
class ProgramAccount:
    program_id: int
    program: str
    balance: Decimal
    pending: Decimal
    tier: str
    tier_value: Decimal
    external: str  # "SamoSale Парк (samosale)" when an external program keeps the points, else ""


@dataclass(frozen=True)
class SystemIds:
    """The ids of one record (a contact or a card) in one connected system (a venue's Lime,
    a CRM, an external bonus program)."""

    connection_id: int
    connection: str
    system: str
    external_ids: tuple[str, ...]


@dataclass(frozen=True)
class CardInfo:
    code: str
    status: str
    systems: tuple[SystemIds, ...]


@dataclass
class LinkedProfile:
    contact: Contact
    reasons: tuple[str, ...]
    accounts: list[ProgramAccount] = field(default_factory=list)
    cards: list[CardInfo] = field(default_factory=list)
    systems: list[SystemIds] = field(default_factory=list)
    receipts: int = 0
    purchases: int = 0
    mergeable: bool = False  # a separate record that could be merged into the survivor

    @property
    def reason_labels(self) -> list[str]:
        return [str(REASONS[reason]) for reason in self.reasons]

    @property
    def last_purchase_at(self) -> dt.datetime | None:
        return self.contact.last_purchase_at

    @property
    def last_pass_at(self) -> dt.datetime | None:
        return self.contact.last_pass_at

    @property
    def balance(self) -> Decimal:
        return sum((account.balance for account in self.accounts), Decimal(0))


@dataclass(frozen=True)
class ProgramTotal:
    program: str
    balance: Decimal
    pending: Decimal


@dataclass
class ClientProfiles:
    contact: Contact
    survivor_id: int  # where the merge family ends: merging "into this contact" goes there
    profiles: list[LinkedProfile]
    totals: list[ProgramTotal]  # per program, over every linked record

    @property
    def total(self) -> Decimal:
        return sum((item.balance for item in self.totals), Decimal(0))

    @property
    def pending(self) -> Decimal:
        return sum((item.pending for item in self.totals), Decimal(0))


def _merge_families(ids: Iterable[int]) -> set[int]:
    """The contacts in these contacts' merge families, in one recursive query: up the
    ``merged_into`` chain, then everything merged into any of those (UNION stops cycles)."""
    seeds = sorted(set(ids))
    if not seeds:
        return set()
    quote = db.ops.quote_name
    table, pk = quote(Contact._meta.db_table), quote(Contact._meta.pk.column)
    parent = quote(Contact._meta.get_field("merged_into").column)
    marks = ", ".join(["%s"] * len(seeds))
    sql = (f"WITH RECURSIVE up(id, parent) AS ("  # noqa: S608 - names from the model's meta, ids bound
           f" SELECT {pk}, {parent} FROM {table} WHERE {pk} IN ({marks})"
           f" UNION SELECT c.{pk}, c.{parent} FROM {table} c JOIN up ON c.{pk} = up.parent),"
           f" down(id) AS (SELECT id FROM up"
           f" UNION SELECT c.{pk} FROM {table} c JOIN down ON c.{parent} = down.id)"
           f" SELECT id FROM down")
    with db.cursor() as cursor:
        cursor.execute(sql, seeds)
        return {row[0] for row in cursor.fetchall()}


def _keys(family: set[int]) -> tuple[set[str], set[str]]:
    """The family's phones and e-mails, normalised: primary ones and identities."""
    phones: set[str] = set()
    emails: set[str] = set()
    rows = Contact.objects.filter(pk__in=family).values_list("phone", "email")
    identities = ContactIdentity.objects.filter(
        contact_id__in=family, kind__in=[ContactIdentity.Kind.PHONE, ContactIdentity.Kind.EMAIL],
    ).values_list("kind", "value")
    for phone, email in rows:
        if phone.strip():
            phones.add(phone_key(phone))
        if email.strip():
            emails.add(email.strip().lower())
    for kind, value in identities:
        if not value.strip():
            continue
        if kind == ContactIdentity.Kind.PHONE:
            phones.add(phone_key(value))
        else:
            emails.add(value.strip().lower())
    return phones, emails


def _matches(family: set[int], phones: set[str], emails: set[str]) -> dict[int, set[str]]:
    """Contacts outside the family sharing a phone, e-mail or card with it, and why: one
    index-friendly UNION per reason (an OR across tables would scan every contact)."""
    kinds = ContactIdentity.Kind
    queries = {}
    if phones:
        queries[PHONE] = Contact.objects.filter(phone__in=phones).values_list("pk").union(
            ContactIdentity.objects.filter(kind=kinds.PHONE, value__in=phones).values_list("contact_id"))
    if emails:  # stored lower-cased (services and the admin form normalise them)
        queries[EMAIL] = Contact.objects.filter(email__in=emails).values_list("pk").union(
            ContactIdentity.objects.filter(kind=kinds.EMAIL, value__in=emails).values_list("contact_id"))
    queries[CARD] = (
        Purchase.objects.filter(card__contact__in=family).values_list("contact_id")
        .union(Pass.objects.filter(card__contact__in=family).values_list("contact_id"),
               Card.objects.filter(purchases__contact__in=family).values_list("contact_id"),
               Card.objects.filter(passes__contact__in=family).values_list("contact_id")))
    found: dict[int, set[str]] = defaultdict(set)
    for reason, query in queries.items():
        for (pk,) in query:
            if pk is not None and pk not in family:
                found[pk].add(reason)
    if not found:
        return {}
    relatives = ContactRelation.objects.filter(
        Q(parent__in=family) | Q(child__in=family) | Q(parent__children_links__child__in=family))
    for parent, child in relatives.values_list("parent_id", "child_id"):
        found.pop(parent, None)
        found.pop(child, None)
    return dict(found)


def _systems(refs: Iterable[ExternalRef]) -> dict[int, list[SystemIds]]:
    """ExternalRefs (connection selected) grouped by local id, then by connection."""
    grouped: dict[int, dict[int, list[ExternalRef]]] = defaultdict(lambda: defaultdict(list))
    for ref in refs:
        grouped[ref.local_id][ref.connection_id].append(ref)
    result: dict[int, list[SystemIds]] = {}
    for local_id, by_connection in grouped.items():
        result[local_id] = sorted(
            (SystemIds(connection_id=items[0].connection_id, connection=items[0].connection.name,
                       system=items[0].connection.system,
                       external_ids=tuple(sorted(ref.external_id for ref in items)))
             for items in by_connection.values()),
            key=lambda item: (item.connection, item.connection_id))
    return result


def client_profiles(contact: Contact) -> ClientProfiles:
    """Every record of this client with their programs, cards and system ids, and totals."""
    family = _merge_families([contact.pk]) or {contact.pk}
    phones, emails = _keys(family)
    matches = _matches(family, phones, emails)
    reasons: dict[int, set[str]] = {pk: {MERGED} for pk in family}
    reasons[contact.pk] = {SELF}
    for pk, why in matches.items():
        reasons[pk] = set(why)
    if matches:
        for pk in _merge_families(matches) - family:
            reasons.setdefault(pk, {MERGED})
    ids = sorted(reasons)
    contacts = {row.pk: row for row in Contact.objects.filter(pk__in=ids)}
    survivor_id = contact.pk
    seen = {survivor_id}
    while (parent := contacts[survivor_id].merged_into_id) in contacts and parent not in seen:
        survivor_id = parent
        seen.add(parent)

    accounts: dict[int, list[ProgramAccount]] = defaultdict(list)
    totals: dict[int, list[Decimal | str]] = {}
    for account in (Account.objects.filter(contact_id__in=ids).select_related("program__connection", "tier")
                    .order_by("program__name", "program_id")):
        program, link = account.program, account.program.connection
        accounts[account.contact_id].append(ProgramAccount(
            program_id=program.pk, program=program.name, balance=account.balance, pending=account.pending,
            tier=account.tier.name if account.tier else "", tier_value=account.tier_value,
            external=f"{link.name} ({link.system})" if link else ""))
        total = totals.setdefault(program.pk, [program.name, Decimal(0), Decimal(0)])
        total[1] += account.balance
        total[2] += account.pending

    cards = list(Card.objects.filter(contact_id__in=ids).order_by("code"))
    card_systems = _systems(ExternalRef.objects.filter(kind="card", local_id__in=[c.pk for c in cards])
                            .select_related("connection")) if cards else {}
    cards_of: dict[int, list[CardInfo]] = defaultdict(list)
    for card in cards:
        cards_of[card.contact_id].append(CardInfo(code=card.code, status=card.get_status_display(),
                                                  systems=tuple(card_systems.get(card.pk, []))))
    systems = _systems(ExternalRef.objects.filter(kind="contact", local_id__in=ids).select_related("connection"))
    receipts = dict(Receipt.objects.filter(contact_id__in=ids, status=Receipt.Status.PAID)
                    .values_list("contact_id").annotate(n=Count("pk")).order_by())
    purchases = dict(Purchase.objects.filter(contact_id__in=ids, status=Purchase.Status.PAID)
                     .values_list("contact_id").annotate(n=Count("pk")).order_by())

    order = sorted(ids, key=lambda pk: (pk != contact.pk, pk))
    profiles = [LinkedProfile(
        contact=contacts[pk], reasons=tuple(sorted(reasons[pk], key=list(REASONS).index)),
        accounts=accounts.get(pk, []), cards=cards_of.get(pk, []), systems=systems.get(pk, []),
        receipts=receipts.get(pk, 0), purchases=purchases.get(pk, 0),
        mergeable=pk != survivor_id and contacts[pk].merged_into_id is None) for pk in order if pk in contacts]
    return ClientProfiles(
        contact=contact, survivor_id=survivor_id, profiles=profiles,
        totals=[ProgramTotal(program=str(name), balance=balance, pending=pending)
                for name, balance, pending in sorted(totals.values(), key=lambda item: str(item[0]))])
