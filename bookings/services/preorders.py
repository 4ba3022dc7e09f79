"""Preorders: created in the hub (bookings) or pulled from Lime; pushed to subscribers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from bookings.models import Preorder, PreorderLine
from hub.models import Connection, Contact, Product
from hub.services.external_refs import external_ref_find, external_ref_link
from hub.services.money import money
from hub.services.outbox import outbox_publish


@dataclass
class PreorderLineData:
    product: Product
    quantity: Decimal = Decimal("1")
    price: Decimal | None = None  # None: the product's base price


def preorder_snapshot(preorder: Preorder) -> dict[str, Any]:
    return {
        "id": preorder.pk,
        "contact_id": preorder.contact_id,
        "scheduled_for": preorder.scheduled_for.isoformat() if preorder.scheduled_for else None,
        "status": preorder.status,
        "comment": preorder.comment,
        "lines": [{"product_id": ln.product_id, "quantity": str(ln.quantity), "price": str(ln.price)}
                  for ln in preorder.lines.order_by("pk")],
    }


@transaction.atomic
def preorder_upsert(
    *,
    contact: Contact,
    lines: list[PreorderLineData],
    scheduled_for: dt.datetime | None = None,
    status: str = Preorder.Status.NEW,
    comment: str = "",
    preorder: Preorder | None = None,
    connection: Connection | None = None,
    external_id: str | None = None,
) -> tuple[Preorder, bool]:
    """Create or replace a preorder; pushed to subscribers except the one it came from."""
    if not lines:
        raise ValidationError({"lines": "A preorder needs at least one product."})
    if status not in Preorder.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    if preorder is None and connection and external_id:
        ref = external_ref_find(connection, "preorder", external_id)
        preorder = Preorder.objects.select_for_update().filter(pk=ref.local_id).first() if ref else None
    created = preorder is None
    preorder = preorder or Preorder()
    preorder.contact, preorder.scheduled_for, preorder.status, preorder.comment = (
        contact, scheduled_for, status, comment)
    resolved = [(ln.product, ln.quantity, money(ln.price if ln.price is not None else ln.product.base_price))
                for ln in lines]
    preorder.total = money(sum((price * qty for _, qty, price in resolved), Decimal("0")))
    preorder.save()
    preorder.lines.all().delete()
    PreorderLine.objects.bulk_create(PreorderLine(preorder=preorder, product=product, quantity=qty, price=price)
                                     for product, qty, price in resolved)
    if connection and external_id:
        external_ref_link(connection, "preorder", preorder.pk, external_id)
    outbox_publish("preorder.upsert", "preorder", preorder.pk, preorder_snapshot(preorder), origin=connection)
    return preorder, created


@transaction.atomic
def preorder_cancel(preorder: Preorder) -> Preorder:
    preorder.status = Preorder.Status.CANCELLED
    preorder.save(update_fields=["status", "updated_at"])
    outbox_publish("preorder.upsert", "preorder", preorder.pk, preorder_snapshot(preorder))
    return preorder


@transaction.atomic
def preorder_changed(preorder: Preorder) -> Preorder:
    """After a direct edit (admin): recompute the total and tell subscribers."""
    preorder.total = money(sum((ln.price * ln.quantity for ln in preorder.lines.all()), Decimal("0")))
    preorder.save(update_fields=["total", "updated_at"])
    outbox_publish("preorder.upsert", "preorder", preorder.pk, preorder_snapshot(preorder))
    return preorder
