"""Receipts and passes, idempotent per source (external ref), keeping contact timestamps
that the "lapsed clients" filters read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal

from hub.models import Card, Connection, Contact, Pass, Product, Purchase, PurchaseLine, ServicePoint
from hub.services.contacts import contact_snapshot
from hub.services.external_refs import external_ref_find, external_ref_link
from hub.services.money import money
from hub.services.outbox import outbox_publish


@dataclass
class LineData:
    product: Product | None
    quantity: Decimal = Decimal("1")
    price: Decimal = Decimal("0")
    holder: Contact | None = None
    name: str = ""


def _touch(contact: Contact | None, field: str, when: dt.datetime, origin: Connection | None) -> None:
    """Advance last_purchase_at / last_pass_at, never move it back (late events); the CRM
    card shows them ("long time no visit" filters), so subscribers hear of the change."""
    if contact is None:
        return
    moved = Contact.objects.filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": when}),
                                   pk=contact.pk).update(**{field: when})
    if moved:
        contact.refresh_from_db()
        outbox_publish("contact.upsert", "contact", contact.pk, contact_snapshot(contact), origin=origin)


# sender=Purchase; purchase=Purchase, created=bool. Sent again when a receipt is re-recorded.
purchase_recorded = Signal()
# sender=Pass; pass_row=Pass. Sent once per new pass (subscriptions and certificates use it).
pass_recorded = Signal()


@transaction.atomic
def purchase_record(
    *,
    purchased_at: dt.datetime,
    lines: list[LineData],
    contact: Contact | None = None,
    card: Card | None = None,
    number: str = "",
    status: str = Purchase.Status.PAID,
    sales_point: str = "",
    connection: Connection | None = None,
    external_id: str | None = None,
) -> tuple[Purchase, bool]:
    """Create the receipt with its lines, or replace the lines of the one already recorded."""
    if purchased_at is None or purchased_at.tzinfo is None:
        raise ValidationError({"purchased_at": "Purchase time must be an aware datetime."})
    if not lines:
        raise ValidationError({"lines": "A purchase needs at least one line."})
    purchase = None
    if connection and external_id:
        ref = external_ref_find(connection, "purchase", external_id)
        purchase = Purchase.objects.select_for_update().filter(pk=ref.local_id).first() if ref else None
    created = purchase is None
    purchase = purchase or Purchase()
    purchase.contact, purchase.card, purchase.number = contact, card, number
    purchase.purchased_at, purchase.status, purchase.sales_point = purchased_at, status, sales_point
    purchase.total = sum((money(line.price) * line.quantity for line in lines), Decimal("0")).quantize(Decimal("0.01"))
    purchase.save()
    purchase.lines.all().delete()
    PurchaseLine.objects.bulk_create([
        PurchaseLine(purchase=purchase, product=line.product, holder=line.holder, quantity=line.quantity,
                     price=money(line.price), amount=money(money(line.price) * line.quantity),
                     product_name=(line.name or (line.product.name if line.product else ""))[:255])
        for line in lines
    ])
    if connection and external_id:
        external_ref_link(connection, "purchase", purchase.pk, external_id)
    _touch(contact, "last_purchase_at", purchased_at, connection)
    if created:
        outbox_publish("purchase.created", "purchase", purchase.pk, {"id": purchase.pk}, origin=connection)
    # Loyalty earns (or, for a refund, reverses) inside this transaction: if it fails, the
    # purchase is not half-recorded and the source retries it.
    purchase_recorded.send(sender=Purchase, purchase=purchase, created=created)
    return purchase, created


@transaction.atomic
def pass_record(
    *,
    passed_at: dt.datetime,
    contact: Contact | None = None,
    payer: Contact | None = None,
    card: Card | None = None,
    product: Product | None = None,
    service_point: ServicePoint | None = None,
    amount: Decimal | str | int = Decimal("0"),
    operator: str = "",
    connection: Connection | None = None,
    external_id: str | None = None,
) -> tuple[Pass, bool]:
    """A write-off at a service point; the same external pass twice is one row."""
    if passed_at is None or passed_at.tzinfo is None:
        raise ValidationError({"passed_at": "Pass time must be an aware datetime."})
    if connection and external_id:
        ref = external_ref_find(connection, "pass", external_id)
        if ref and (existing := Pass.objects.filter(pk=ref.local_id).first()):
            return existing, False
    if contact is None and card is not None:
        contact = card.contact
    row = Pass.objects.create(contact=contact, payer=payer or contact, card=card, product=product,
                              service_point=service_point,
                              passed_at=passed_at, amount=money(amount), operator=operator[:200])
    if connection and external_id:
        external_ref_link(connection, "pass", row.pk, external_id)
    _touch(contact, "last_pass_at", passed_at, connection)
    outbox_publish("pass.created", "pass", row.pk, {"id": row.pk}, origin=connection)
    pass_recorded.send(sender=Pass, pass_row=row)
    return row, True

