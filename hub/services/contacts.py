"""Contacts: upsert with dedup (external ref → phone / e-mail / messenger id), family
links, cards, and merging duplicates without losing any history."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef

from hub.models import (
    Card,
    ClientLifecycle,
    Connection,
    Contact,
    ContactIdentity,
    ContactRelation,
    ExternalRef,
    Outbox,
)
from hub.services.external_refs import external_ref_find, external_ref_link
from hub.services.normalize import email_normalize, phone_key, phone_normalize
from hub.services.outbox import outbox_publish

log = logging.getLogger(__name__)

CONTACT_FIELDS = ("first_name", "last_name", "middle_name", "birth_date", "category")


@dataclass
class ContactData:
    """What a source knows about a person; raw phones/e-mails are normalised here."""

    first_name: str = ""
    last_name: str = ""
    middle_name: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    birth_date: dt.date | None = None
    category: str = ""
    messengers: dict[str, str] = field(default_factory=dict)  # ContactIdentity.Kind → id

    def identities(self) -> list[tuple[str, str]]:
        """Normalised (kind, value) pairs; collects every bad value into one ValidationError."""
        errors: dict[str, list[str]] = {}
        result: list[tuple[str, str]] = []
        for raw in self.phones:
            try:
                result.append((ContactIdentity.Kind.PHONE, phone_normalize(raw)))
            except ValidationError as exc:
                errors.setdefault("phone", []).extend(exc.messages)
        for raw in self.emails:
            try:
                result.append((ContactIdentity.Kind.EMAIL, email_normalize(raw)))
            except ValidationError as exc:
                errors.setdefault("email", []).extend(exc.messages)
        for kind, value in self.messengers.items():
            if kind not in ContactIdentity.Kind.values:
                errors.setdefault("messengers", []).append(f"Unknown messenger {kind!r}.")
            elif str(value).strip():
                result.append((kind, str(value).strip()))
        if self.category and self.category not in Contact.Category.values:
            errors.setdefault("category", []).append(f"Unknown category {self.category!r}.")
        if errors:
            raise ValidationError(errors)
        return list(dict.fromkeys(result))


def contact_resolve(contact: Contact) -> Contact:
    """Follow merged_into to the surviving contact."""
    seen = set()
    while contact.merged_into_id and contact.pk not in seen:
        seen.add(contact.pk)
        contact = Contact.objects.get(pk=contact.merged_into_id)
    return contact


def contact_by_identity(kind: str, value: str) -> Contact | None:
    """Who owns this phone / e-mail / messenger id (already normalised), following merges; for
    a phone also a contact whose primary phone it is without an identity row."""
    identity = ContactIdentity.objects.select_related("contact").filter(kind=kind, value=value).first()
    if identity is not None:
        return contact_resolve(identity.contact)
    if kind != ContactIdentity.Kind.PHONE:
        return None
    return Contact.objects.filter(phone=value, merged_into__isnull=True).order_by("pk").first()


def contact_for_ref(connection: Connection, external_id: str | int | None,
                    category: str = Contact.Category.ADULT) -> Contact | None:
    """The contact behind their id; a stub when they mention someone we have not pulled
    yet (a receipt before its client) — the client record fills it in later."""
    if external_id in (None, "", 0):
        return None
    ref = external_ref_find(connection, "contact", str(external_id))
    if ref:
        contact = Contact.objects.filter(pk=ref.local_id).first()
        if contact:
            return contact_resolve(contact)
    contact = Contact.objects.create(category=category)
    external_ref_link(connection, "contact", contact.pk, str(external_id))
    return contact


def contact_snapshot(contact: Contact) -> dict[str, Any]:
    """The contact as pushed to subscribers (and fingerprinted for echo suppression)."""
    return {
        "id": contact.pk,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "middle_name": contact.middle_name,
        "phone": contact.phone,
        "email": contact.email,
        "birth_date": contact.birth_date.isoformat() if contact.birth_date else None,
        "category": contact.category,
        "last_purchase_at": contact.last_purchase_at.isoformat() if contact.last_purchase_at else None,
        "last_pass_at": contact.last_pass_at.isoformat() if contact.last_pass_at else None,
    }


def _find_existing(identities: list[tuple[str, str]], connection: Connection | None,
                   external_id: str | None) -> list[Contact]:
    found: list[Contact] = []
    if connection and external_id:
        ref = external_ref_find(connection, "contact", external_id)
        if ref:
            contact = Contact.objects.filter(pk=ref.local_id).first()
            if contact:
                found.append(contact_resolve(contact))
    if identities:
        query = models.Q()
        for kind, value in identities:
            query |= models.Q(kind=kind, value=value)
        for identity in ContactIdentity.objects.filter(query).select_related("contact").order_by("contact_id"):
            found.append(contact_resolve(identity.contact))
    unique: dict[int, Contact] = {}
    for contact in found:
        unique.setdefault(contact.pk, contact)
    return sorted(unique.values(), key=lambda c: c.pk)


@transaction.atomic
def contact_upsert(
    data: ContactData,
    *,
    connection: Connection | None = None,
    external_id: str | None = None,
    external_values: Any = None,
    known: Contact | None = None,
) -> tuple[Contact, bool]:
    """Find the person by external ref or any identity, else create; merge if several match.

    ``connection``/``external_id`` record where the data came from: the ref is linked and
    that connection is not sent the change back (echo suppression). ``known`` is a contact
    the caller already matched by other means (e.g. a child by name among siblings).
    """
    identities = data.identities()
    matches = _find_existing(identities, connection, external_id)
    if known is not None:
        known = contact_resolve(known)
        matches = sorted({c.pk: c for c in [known, *matches]}.values(), key=lambda c: c.pk)
    created = not matches
    if created:
        contact = Contact.objects.create(category=data.category or Contact.Category.ADULT)
    else:
        contact = Contact.objects.select_for_update().get(pk=matches[0].pk)
        for duplicate in matches[1:]:
            contact = contact_merge(contact, duplicate)
    for name in CONTACT_FIELDS:
        value = getattr(data, name)
        if value not in ("", None):
            setattr(contact, name, value)
    for kind, value in identities:
        _identity_attach(contact, kind, value)
    # The latest source's first phone / e-mail becomes the primary one (older ones stay as
    # dedup keys): an edit of the phone in one system is what the others then receive.
    for kind, attr in ((ContactIdentity.Kind.PHONE, "phone"), (ContactIdentity.Kind.EMAIL, "email")):
        first = next((value for k, value in identities if k == kind), None)
        if first:
            setattr(contact, attr, first)
    contact.save()
    snapshot = contact_snapshot(contact)
    if connection and external_id:
        external_ref_link(connection, "contact", contact.pk, external_id,
                          values=external_values if external_values is not None else snapshot)
    outbox_publish("contact.upsert", "contact", contact.pk, snapshot, origin=connection)
    log.info("contact %s %s", contact.pk, "created" if created else "updated")
    return contact, created


def contact_from_web(*, first_name: str, last_name: str, phone: str, email: str,
                     connection: Connection | None = None) -> Contact | None:
    """A buyer or form sender from a website: found by phone or e-mail (several found are
    merged by contact_upsert), else created. A known client's name is not overwritten by
    what was typed on a site (it may be "Аня" for "Анна", or a parent's name on a child's
    ticket); a new one gets it. None when there is neither phone nor e-mail."""
    identities = [(kind, value) for kind, value in ((ContactIdentity.Kind.PHONE, phone),
                                                    (ContactIdentity.Kind.EMAIL, email)) if value]
    if not identities:
        return None
    known = [contact_resolve(i.contact) for i in ContactIdentity.objects.select_related("contact").filter(
        kind__in=[k for k, _ in identities], value__in=[v for _, v in identities])]
    named = any(c.first_name or c.last_name for c in known)
    data = ContactData(first_name="" if named else first_name, last_name="" if named else last_name,
                       phones=[phone] if phone else [], emails=[email] if email else [])
    contact, _ = contact_upsert(data, connection=connection)
    return contact


def _identity_attach(contact: Contact, kind: str, value: str) -> None:
    identity, created = ContactIdentity.objects.get_or_create(kind=kind, value=value,
                                                              defaults={"contact": contact})
    if not created and identity.contact_id != contact.pk:
        # Cannot happen after the merge in contact_upsert; guard against races loudly.
        raise IntegrityError(f"identity {kind} belongs to contact {identity.contact_id}")


@transaction.atomic
def child_upsert(
    parent: Contact,
    data: ContactData,
    *,
    relation: str = ContactRelation.Relation.OTHER,
    connection: Connection | None = None,
    external_id: str | None = None,
) -> Contact:
    """A child of ``parent``: by external ref, else same first name + birth date among the
    parent's children, else new. Children are contacts (they hold cards, make passes)."""
    data.category = data.category or Contact.Category.CHILD
    # Tickets systems often give a child the parent's phone or e-mail: those identify the
    # parent, not the child, and must not make the child match (or merge into) the parent.
    held = set(parent.identities.values_list("kind", "value"))
    data.phones = [p for p in data.phones if (ContactIdentity.Kind.PHONE, phone_key(p)) not in held]
    data.emails = [e for e in data.emails if (ContactIdentity.Kind.EMAIL, e.strip().lower()) not in held]
    known = None
    if data.first_name:
        known = (
            Contact.objects.filter(parent_links__parent=parent, first_name__iexact=data.first_name,
                                   birth_date=data.birth_date, merged_into__isnull=True)
            .order_by("pk")
            .first()
        )
    child, _ = contact_upsert(data, connection=connection, external_id=external_id, known=known)
    child_link(parent, child, relation)
    return child


def child_link(parent: Contact, child: Contact, relation: str = ContactRelation.Relation.OTHER) -> ContactRelation:
    if parent.pk == child.pk:
        raise ValidationError({"child": "A contact cannot be their own child."})
    if relation not in ContactRelation.Relation.values:
        raise ValidationError({"relation": f"Unknown relation {relation!r}."})
    link, created = ContactRelation.objects.update_or_create(parent=parent, child=child,
                                                             defaults={"relation": relation})
    if created:  # the parent's card lists the children
        contact_publish(parent)
    return link


def contact_publish(contact: Contact) -> None:
    """Something shown on the contact's card changed (children, consent, bonuses…), not the
    contact row itself: subscribers get the contact again."""
    outbox_publish("contact.upsert", "contact", contact.pk, contact_snapshot(contact), origin=None)


def contacts_publish(ids: list[int]) -> int:
    """``contact_publish`` for many contacts (a task's chunk)."""
    done = 0
    for contact in Contact.objects.filter(pk__in=ids, merged_into__isnull=True):
        contact_publish(contact)
        done += 1
    return done


def contacts_publish_later(ids: list[int], chunk: int = 1000) -> None:
    """After the current transaction commits, republish these contacts in background chunks:
    a mass change (points to 100,000 clients) commits at once, and the CRM cards follow."""
    from hub.tasks import contacts_publish_task  # tasks import services; enqueue lazily

    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        transaction.on_commit(lambda part=part: contacts_publish_task.delay(part), robust=True)


def card_upsert(code: str, contact: Contact | None = None, *, status: str | None = None,
                issued_at: dt.datetime | None = None) -> Card:
    code = (code or "").strip()
    if not code:
        raise ValidationError({"card": "Card code is empty."})
    card, _ = Card.objects.get_or_create(code=code)
    changed = False
    for name, value in (("contact", contact), ("status", status), ("issued_at", issued_at)):
        if value is not None and getattr(card, name) != value:
            setattr(card, name, value)
            changed = True
    if changed:
        card.save()
    return card


@transaction.atomic
def contact_merge(survivor: Contact, duplicate: Contact) -> Contact:
    """Move everything of ``duplicate`` to ``survivor``; the duplicate stays as a tombstone.

    Generic over every model pointing at Contact, so history added by other apps
    (ledger entries, bookings…) follows without this function knowing about it.
    """
    survivor = contact_resolve(survivor)
    duplicate = contact_resolve(duplicate)
    if survivor.pk == duplicate.pk:
        return survivor
    survivor, duplicate = (Contact.objects.select_for_update().get(pk=c.pk) for c in (survivor, duplicate))
    ClientLifecycle.objects.filter(contact=duplicate).delete()  # one stage per contact; recomputed daily
    _drop_clashes(survivor, duplicate)
    _merge_family_links(survivor, duplicate)
    for rel in Contact._meta.related_objects:
        if rel.related_model is ContactRelation:
            continue
        if rel.many_to_many:
            through = rel.through
            fk = next(f for f in through._meta.fields if f.is_relation and f.related_model is Contact)
            _repoint(through, fk.name, duplicate, survivor)
        else:
            _repoint(rel.related_model, rel.field.name, duplicate, survivor)
    ExternalRef.objects.filter(kind="contact", local_id=duplicate.pk).update(local_id=survivor.pk)
    unsent = Outbox.objects.filter(target_kind="contact", target_id=duplicate.pk,
                                   status__in=[Outbox.Status.PENDING, Outbox.Status.FAILED])
    unsent.filter(action__endswith=".upsert").update(status=Outbox.Status.SKIPPED,
                                                     last_error="merged into another contact")
    unsent.exclude(action__endswith=".upsert").update(target_id=survivor.pk)  # events (chat notes) still go
    for name in (*CONTACT_FIELDS, "phone", "email"):
        if getattr(survivor, name) in ("", None) and getattr(duplicate, name) not in ("", None):
            setattr(survivor, name, getattr(duplicate, name))
    for name in ("last_purchase_at", "last_pass_at"):
        values = [v for v in (getattr(survivor, name), getattr(duplicate, name)) if v]
        setattr(survivor, name, max(values) if values else None)
    survivor.save()
    duplicate.merged_into = survivor
    duplicate.save(update_fields=["merged_into", "updated_at"])
    outbox_publish("contact.merged", "contact", survivor.pk,
                   {"survivor": survivor.pk, "duplicate": duplicate.pk}, origin=None)
    outbox_publish("contact.upsert", "contact", survivor.pk, contact_snapshot(survivor), origin=None)
    log.info("contact %s merged into %s", duplicate.pk, survivor.pk)
    return survivor


def _drop_clashes(survivor: Contact, duplicate: Contact) -> None:
    """Rows a client has one of per key (an offer's exposure, a referral code or a referral in
    a program): where both have one, the survivor's stands; the rest move to the survivor."""
    for model, keys, column in (("OfferExposure", ("offer", "offer_id"), "contact"),
                                ("ReferralCode", ("program",), "contact"), ("Referral", ("program",), "friend")):
        rows = apps.get_model("loyalty", model).objects
        theirs = rows.filter(**{column: survivor}, **{key: OuterRef(key) for key in keys})
        rows.filter(Exists(theirs), **{column: duplicate}).delete()
        rows.filter(**{column: duplicate}).update(**{column: survivor})


def _merge_family_links(survivor: Contact, duplicate: Contact) -> None:
    links = ContactRelation.objects
    for link in links.filter(parent=duplicate):
        if link.child_id == survivor.pk or links.filter(parent=survivor, child=link.child_id).exists():
            link.delete()
        else:
            links.filter(pk=link.pk).update(parent=survivor)
    for link in links.filter(child=duplicate):
        if link.parent_id == survivor.pk or links.filter(parent=link.parent_id, child=survivor).exists():
            link.delete()
        else:
            links.filter(pk=link.pk).update(child=survivor)


def _repoint(model: type[models.Model], field_name: str, old: Contact, new: Contact) -> None:
    """Move rows to the survivor. A unique constraint in the way aborts the merge rather
    than deleting anybody's history; the model's owner decides how to reconcile."""
    try:
        with transaction.atomic():
            model._base_manager.filter(**{field_name: old}).update(**{field_name: new})
    except IntegrityError as exc:
        raise ValidationError(
            f"Cannot merge: {model._meta.verbose_name} records of both contacts conflict; reconcile them first."
        ) from exc


def contact_changed(contact: Contact) -> Contact:
    """After a direct edit (admin): keep identities in step with phone/e-mail and tell subscribers."""
    for kind, value in ((ContactIdentity.Kind.PHONE, contact.phone), (ContactIdentity.Kind.EMAIL, contact.email)):
        if not value:
            continue
        owner = ContactIdentity.objects.filter(kind=kind, value=value).exclude(contact=contact).first()
        if owner:
            raise ValidationError({kind: f"{value} already belongs to contact #{owner.contact_id}; merge them."})
        _identity_attach(contact, kind, value)
    contact_publish(contact)
    return contact
