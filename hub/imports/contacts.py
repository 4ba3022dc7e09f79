"""The contacts table: export of live (not merged) contacts and import through
``contact_upsert`` — the same dedup by phone / e-mail / messenger id as every other source,
so a changed contact is queued in the Outbox for the CRMs like any other edit.

An empty cell changes nothing (as with every source); tags and cards are added, never
taken away. A row naming an ID whose phone or e-mail belongs to another contact is an error
(a typo must not merge two clients); a row without an ID that matches several contacts
merges them, as everywhere in the hub.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from hub.imports.table import (
    CREATED,
    UNCHANGED,
    UPDATED,
    Column,
    Planned,
    Row,
    TableSpec,
    chunks,
    collect,
    label_choices,
    local,
    read_choice,
    read_date,
    read_int,
    read_list,
    read_text,
)
from hub.models import Card, Contact, ContactIdentity, Tag
from hub.services.contacts import (
    CONTACT_FIELDS,
    ContactData,
    card_upsert,
    contact_upsert,
)
from hub.services.normalize import email_normalize, phone_normalize

Kind = ContactIdentity.Kind
MESSENGERS = (Kind.TELEGRAM, Kind.VK, Kind.WHATSAPP)
FIELD_LABELS = {"first_name": "имя", "last_name": "фамилия", "middle_name": "отчество",
                "birth_date": "дата рождения", "category": "категория"}
KIND_LABELS = {Kind.PHONE: "телефоны", Kind.EMAIL: "e-mail", Kind.TELEGRAM: "Telegram", Kind.VK: "VK",
               Kind.WHATSAPP: "WhatsApp"}
DATE = "DD.MM.YYYY"
DATETIME = "DD.MM.YYYY HH:MM"


@dataclass
class Parsed:
    planned: Planned
    data: ContactData | None  # None when the row has errors already
    contact_id: int | None
    identities: list[tuple[str, str]]
    tags: list[str]
    cards: list[str]


class ContactIndex:
    """What the database knows about a file's IDs, phones, e-mails, messenger ids and cards,
    read in a few queries; answers as ``contact_by_identity`` does (an identity row, else a
    live contact whose primary phone it is; merged contacts followed to their survivor)."""

    def __init__(self, items: Sequence[Parsed]) -> None:
        pairs = {pair for item in items for pair in item.identities}
        ids = {item.contact_id for item in items if item.contact_id}
        codes = {code for item in items for code in item.cards}
        self.owners: dict[tuple[str, str], int] = {}
        for chunk in chunks(sorted({value for _, value in pairs})):
            for kind, value, contact_id in ContactIdentity.objects.filter(value__in=chunk).values_list(
                    "kind", "value", "contact_id"):
                if (kind, value) in pairs:
                    self.owners[(kind, value)] = contact_id
        loose = sorted(v for k, v in pairs if k == Kind.PHONE and (k, v) not in self.owners)
        for chunk in chunks(loose):
            for phone, contact_id in Contact.objects.filter(phone__in=chunk, merged_into__isnull=True).order_by(
                    "-pk").values_list("phone", "pk"):
                self.owners[(Kind.PHONE, phone)] = contact_id  # the oldest, as contact_by_identity
        self.cards: dict[str, int | None] = {}
        for chunk in chunks(sorted(codes)):
            self.cards.update(Card.objects.filter(code__in=chunk).values_list("code", "contact_id"))
        self.contacts: dict[int, Contact] = {}
        self._load({*self.owners.values(), *ids, *(pk for pk in self.cards.values() if pk)})

    def _load(self, pks: set[int]) -> None:
        for chunk in chunks(sorted(pks - set(self.contacts))):
            for contact in Contact.objects.filter(pk__in=chunk).prefetch_related("identities", "tags", "cards"):
                self.contacts[contact.pk] = contact

    def resolve(self, pk: int | None) -> Contact | None:
        contact, seen = self.contacts.get(pk) if pk else None, set()
        while contact is not None and contact.merged_into_id and contact.pk not in seen:
            seen.add(contact.pk)
            self._load({contact.merged_into_id})
            contact = self.contacts.get(contact.merged_into_id)
        return contact

    def by_id(self, pk: int) -> Contact | None:
        return self.resolve(pk)

    def by_identity(self, kind: str, value: str) -> Contact | None:
        return self.resolve(self.owners.get((kind, value)))

    def card_holder(self, code: str) -> Contact | None:
        return self.resolve(self.cards.get(code))


class ContactTable(TableSpec):
    key = "contacts"
    title = "контакты"
    model = Contact
    required_any = ("id", "phone", "email", "phones", "emails", *MESSENGERS)
    columns = (
        Column("id", "ID", ("номер контакта", "id контакта"), width=8),
        Column("last_name", "Фамилия", ("last name", "surname"), width=18),
        Column("first_name", "Имя", ("first name", "name"), width=16),
        Column("middle_name", "Отчество", ("middle name", "patronymic"), width=18),
        Column("phone", "Телефон", ("мобильный телефон", "моб телефон", "тел", "phone number"), width=16),
        Column("email", "E-mail", ("почта", "электронная почта", "эл почта", "e-mail адрес", "mail"), width=24),
        Column("birth_date", "Дата рождения", ("день рождения", "др", "birthday", "birthdate"), width=14,
               number_format=DATE),
        Column("category", "Категория", ("категория клиента",), width=12),
        Column("tags", "Теги", ("метки", "тег", "tag"), width=20),
        Column("phones", "Другие телефоны", ("доп телефоны", "дополнительные телефоны", "телефоны"), width=20),
        Column("emails", "Другие e-mail", ("доп e-mail", "дополнительные e-mail", "emails"), width=24),
        Column(Kind.TELEGRAM, "Telegram", ("телеграм", "telegram id"), width=14),
        Column(Kind.VK, "VK", ("вконтакте", "vk id"), width=14),
        Column(Kind.WHATSAPP, "WhatsApp", ("ватсап", "whatsapp id"), width=14),
        Column("cards", "Карты", ("карта", "номер карты", "карты клиента"), width=16),
        Column("created_at", "Создан", ("дата создания",), readonly=True, width=17, number_format=DATETIME),
        Column("last_purchase_at", "Последняя покупка", (), readonly=True, width=17, number_format=DATETIME),
        Column("last_pass_at", "Последний визит", ("последний проход",), readonly=True, width=17,
               number_format=DATETIME),
    )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.categories, self.category_names = label_choices(Contact.Category.choices)
        self.category_labels = dict(zip(Contact.Category.values, self.category_names, strict=True))
        self._tags: dict[str, Tag] | None = None

    # --- export -----------------------------------------------------------------------

    def export_queryset(self, queryset: QuerySet) -> QuerySet:
        """Never the merged duplicates: their survivor carries everything."""
        return (queryset.filter(merged_into__isnull=True).order_by("pk")
                .prefetch_related("identities", "tags", "cards"))

    def export_row(self, contact: Contact) -> list[object]:
        identities = sorted(contact.identities.all(), key=lambda i: i.pk)
        by_kind: dict[str, list[str]] = {}
        for identity in identities:
            by_kind.setdefault(identity.kind, []).append(identity.value)
        other_phones = [v for v in by_kind.get(Kind.PHONE, []) if v != contact.phone]
        other_emails = [v for v in by_kind.get(Kind.EMAIL, []) if v != contact.email]
        return [
            contact.pk, contact.last_name, contact.first_name, contact.middle_name, contact.phone, contact.email,
            contact.birth_date, self.category_labels.get(contact.category, contact.category),
            ", ".join(sorted(t.name for t in contact.tags.all())),
            ", ".join(other_phones), ", ".join(other_emails),
            *[(by_kind.get(kind) or [""])[0] for kind in MESSENGERS],
            ", ".join(sorted(c.code for c in contact.cards.all())),
            local(contact.created_at), local(contact.last_purchase_at), local(contact.last_pass_at),
        ]

    # --- import -----------------------------------------------------------------------

    def plan(self, rows: Sequence[Row]) -> list[Planned]:
        """Read every row, look all their keys up at once (a few queries per file, not per
        row: a check of thousands of rows stays quick), then decide row by row."""
        parsed = [self._parse(row) for row in rows]
        index = ContactIndex([p for p in parsed if p.data is not None])
        seen: dict[tuple[str, str], int] = {}
        return [self._decide(item, index, seen) for item in parsed]

    def _parse(self, row: Row) -> Parsed:
        planned = Planned(row.number)
        data = self._read(row, planned)
        tags, cards = read_list(row, "tags"), read_list(row, "cards")
        for tag in tags:
            if len(tag) > 64:
                planned.fail(f"Тег «{tag[:20]}…» длиннее 64 символов.")
        for code in cards:
            if len(code) > 64:
                planned.fail(f"Номер карты «{code[:20]}…» длиннее 64 символов.")
        contact_id = collect(planned, lambda: read_int(row, "id", "ID"))
        if data is not None and not (contact_id or data.phones or data.emails or data.messengers):
            planned.fail("Нужен телефон, e-mail или мессенджер (или ID существующего контакта): "
                         "по ним контакт находится при следующем импорте.")
        if planned.errors or data is None:
            return Parsed(planned, None, None, [], [], [])
        return Parsed(planned, data, contact_id, data.identities(), tags, cards)

    def _decide(self, item: Parsed, index: ContactIndex, seen: dict[tuple[str, str], int]) -> Planned:
        planned, data = item.planned, item.data
        if data is None:
            return planned
        found = self._matches(planned, index, item.contact_id, item.identities)
        if planned.errors:
            return planned
        keys = [("contact", str(c.pk)) for c in found] + list(item.identities)
        earlier = next((seen[key] for key in keys if key in seen), None)
        if earlier is not None:
            planned.fail(f"Повтор строки {earlier}: тот же контакт (телефон, e-mail или ID).")
            return planned
        seen.update({key: planned.row for key in keys})
        survivor = found[0] if found else None
        for code in item.cards:
            holder = index.card_holder(code)
            if holder is not None and (survivor is None or holder.pk != survivor.pk):
                planned.fail(f"Карта {code} уже у контакта #{holder.pk}.")
        if planned.errors:
            return planned
        planned.payload = {"data": data, "known": survivor.pk if survivor else None, "tags": item.tags,
                           "cards": item.cards}
        if survivor is None:
            planned.status = CREATED
            return planned
        planned.target = survivor.pk
        if len(found) > 1:
            planned.changes.append("объединение контактов " + ", ".join(f"#{c.pk}" for c in found))
        planned.changes.extend(self._diff(survivor, data, item.identities, item.tags, item.cards))
        planned.status = UPDATED if planned.changes else UNCHANGED
        return planned

    def _read(self, row: Row, planned: Planned) -> ContactData | None:
        data = ContactData()
        for name in ("last_name", "first_name", "middle_name"):
            setattr(data, name, collect(planned, lambda n=name: read_text(row, n, FIELD_LABELS[n].capitalize(),
                                                                           150)) or "")
        for raw in [*read_list(row, "phone"), *read_list(row, "phones")]:
            try:
                data.phones.append(phone_normalize(raw))
            except ValidationError:
                planned.fail(f"Телефон «{raw}» не распознан как номер телефона.")
        for raw in [*read_list(row, "email"), *read_list(row, "emails")]:
            try:
                data.emails.append(email_normalize(raw))
            except ValidationError:
                planned.fail(f"E-mail «{raw}» — некорректный адрес.")
        data.phones, data.emails = list(dict.fromkeys(data.phones)), list(dict.fromkeys(data.emails))
        birth = collect(planned, lambda: read_date(row, "birth_date", "Дата рождения"))
        if birth and birth > timezone.localdate():
            planned.fail(f"Дата рождения {birth:%d.%m.%Y} в будущем.")
        elif birth and birth < dt.date(1900, 1, 1):
            planned.fail(f"Дата рождения {birth:%d.%m.%Y} раньше 1900 года.")
        data.birth_date = birth
        data.category = collect(planned, lambda: read_choice(row, "category", "Категория", self.categories,
                                                             self.category_names)) or ""
        for kind in MESSENGERS:
            value = collect(planned, lambda k=kind: read_text(row, k, KIND_LABELS[k], 254))
            if value:
                data.messengers[kind] = value
        return None if planned.errors else data

    def _matches(self, planned: Planned, index: ContactIndex, contact_id: int | None,
                 identities: list[tuple[str, str]]) -> list[Contact]:
        """The contacts this row is about, oldest (the survivor of a merge) first."""
        named = None
        if contact_id:
            named = index.by_id(contact_id)
            if named is None:
                planned.fail(f"Контакт с ID {contact_id} не найден.")
                return []
        found = {named.pk: named} if named else {}
        for kind, value in identities:
            owner = index.by_identity(kind, value)
            if owner is None or owner.pk in found:
                continue
            if named is not None:
                planned.fail(f"{KIND_LABELS[kind].capitalize()}: «{value}» уже у контакта #{owner.pk}, а в строке "
                             f"ID {contact_id}. Исправьте строку или объедините контакты в админке.")
                continue
            found[owner.pk] = owner
        return sorted(found.values(), key=lambda c: c.pk)

    def _diff(self, contact: Contact, data: ContactData, identities: list[tuple[str, str]], tags: list[str],
              cards: list[str]) -> list[str]:
        changes = [FIELD_LABELS[name] for name in CONTACT_FIELDS
                   if getattr(data, name) not in ("", None) and getattr(contact, name) != getattr(data, name)]
        if data.phones and data.phones[0] != contact.phone:
            changes.append("телефон")
        if data.emails and data.emails[0] != contact.email:
            changes.append("основной e-mail")
        held = {(i.kind, i.value) for i in contact.identities.all()}  # prefetched by ContactIndex
        changes.extend(dict.fromkeys(KIND_LABELS[kind] for kind, value in identities if (kind, value) not in held))
        has_tags = {tag.name.casefold() for tag in contact.tags.all()}
        if any(tag.casefold() not in has_tags for tag in tags):
            changes.append("теги")
        has_cards = {card.code for card in contact.cards.all()}
        if any(code not in has_cards for code in cards):
            changes.append("карты")
        return list(dict.fromkeys(changes))

    def _tag(self, name: str) -> Tag:
        """The tag so named whatever the case (folded in Python: SQLite folds only ASCII), else
        a new one. Read again on a miss: a tag made by a row rolled back must not be reused."""
        tag = (self._tags or {}).get(name.casefold())
        if tag is None:
            self._tags = {t.name.casefold(): t for t in Tag.objects.order_by("-pk")}
            tag = self._tags.get(name.casefold()) or Tag.objects.get_or_create(name=name)[0]
        return tag

    def apply_row(self, planned: Planned) -> None:
        payload = planned.payload
        known = Contact.objects.filter(pk=payload["known"]).first() if payload["known"] else None
        contact, _ = contact_upsert(payload["data"], known=known)
        if payload["tags"]:
            contact.tags.add(*[self._tag(name) for name in payload["tags"]])
        for code in payload["cards"]:
            card_upsert(code, contact)
        planned.target = contact.pk
