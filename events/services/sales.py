"""Ticket orders from the site: the buyer (deduplicated), a purchase (so the loyalty program
earns on it and reverses on a refund), and a sale tied to its calendar date, which becomes a
deal in the CRM's "ticket sales" pipeline linked to the event's deal. An order for a date the
hub does not know yet is kept and linked when that date reaches the site through the hub."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from events.models import EventDate, TicketSale
from hub.models import Connection, Product, Purchase
from hub.services.catalog import product_for_source
from hub.services.contacts import contact_from_web
from hub.services.external_refs import external_ref_find
from hub.services.money import money
from hub.services.normalize import email_normalize, phone_normalize
from hub.services.outbox import outbox_publish
from hub.services.sales import LineData, purchase_record

log = logging.getLogger(__name__)

SALE = "ticket_sale.upsert"


@dataclass(frozen=True)
class TicketLine:
    product_id: str
    name: str
    price: Decimal
    quantity: int


@dataclass(frozen=True)
class SaleData:
    order_id: str
    site_event_id: str
    sold_at: dt.datetime
    refunded_at: dt.datetime | None
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    email: str = ""
    lines: list[TicketLine] = field(default_factory=list)

    @property
    def refunded(self) -> bool:
        return self.refunded_at is not None


def ticket_sale_publish(sale: TicketSale) -> None:
    outbox_publish(SALE, "ticket_sale", sale.pk,
                   {"status": sale.status, "event": sale.event_id, "tickets": sale.tickets, "amount": str(sale.amount),
                    "contact": sale.contact_id})


def _valid(normalize: Callable[[str], str], raw: str) -> str:
    """A mistyped phone or e-mail is left out: the order still counts."""
    try:
        return normalize(raw) if raw and len(raw) <= 254 else ""
    except ValidationError:
        return ""


def _event_for(site: Connection, site_event_id: str) -> EventDate | None:
    ref = external_ref_find(site, "event_date", site_event_id)
    return EventDate.objects.filter(pk=ref.local_id).first() if ref else None


@transaction.atomic
def ticket_sale_record(site: Connection, data: SaleData) -> tuple[TicketSale, bool]:
    """Idempotent per order: paid twice is one sale; a refund (also one arriving before the
    payment it reverses) is final and a late "paid" does not undo it."""
    if not data.lines:
        raise ValidationError("В заказе нет билетов.")
    sale = TicketSale.objects.select_for_update().filter(site=site, order_id=data.order_id).first()
    created = sale is None
    if sale is not None and sale.status == TicketSale.Status.REFUNDED and not data.refunded:
        return sale, False
    contact = contact_from_web(first_name=data.first_name, last_name=data.last_name, phone=_valid(phone_normalize,
                               data.phone), email=_valid(email_normalize, data.email), connection=site)
    if contact is None and sale is not None:  # a refund without the buyer's details is still theirs
        contact = sale.contact
    kind = str((site.settings or {}).get("product_kind") or Product.Kind.TICKET)
    kind = kind if kind in Product.Kind.values else Product.Kind.TICKET
    lines = [LineData(product=product_for_source(site, f"product:{line.product_id or line.name.lower()}"[:128],
                                                 name=line.name, price=line.price, kind=kind),
                      quantity=Decimal(line.quantity), price=line.price, name=line.name) for line in data.lines]
    purchase, _ = purchase_record(
        purchased_at=data.sold_at, lines=lines, contact=contact, number=data.order_id,
        status=Purchase.Status.REFUNDED if data.refunded else Purchase.Status.PAID,
        sales_point=str((site.settings or {}).get("sales_point") or site.name)[:200], connection=site,
        external_id=f"order:{data.order_id}")
    sale = sale or TicketSale(site=site, order_id=data.order_id)
    sale.site_event_id = data.site_event_id
    sale.event = sale.event or _event_for(site, data.site_event_id)
    sale.contact, sale.purchase, sale.sold_at = contact, purchase, data.sold_at
    sale.tickets = sum(line.quantity for line in data.lines)
    sale.amount = money(purchase.total)
    sale.status = TicketSale.Status.REFUNDED if data.refunded else TicketSale.Status.PAID
    sale.refunded_at = data.refunded_at
    sale.save()
    if sale.event is None:
        log.info("ticket sale %s waits for site event %s", sale.pk, data.site_event_id)
        # The event may reach the site (and link its sales) while this is not yet committed.
        transaction.on_commit(lambda pk=sale.pk: ticket_sale_relink(pk))
    ticket_sale_publish(sale)
    return sale, created


def ticket_sale_relink(sale_id: int) -> int:
    """After commit: the sale's event may have reached the site meanwhile (its link missed
    this then uncommitted sale)."""
    sale = TicketSale.objects.filter(pk=sale_id, event__isnull=True).select_related("site").first()
    event = _event_for(sale.site, sale.site_event_id) if sale else None
    return ticket_sales_link(event, sale.site_event_id) if sale and event else 0


@transaction.atomic
def ticket_sales_link(event: EventDate, site_event_id: str) -> int:
    """Sales that arrived before their event: tied to it now, and their CRM deals linked."""
    waiting = list(TicketSale.objects.select_for_update().filter(
        site=event.setup.site, site_event_id=site_event_id, event__isnull=True))
    for sale in waiting:
        sale.event = event
        sale.save(update_fields=["event", "updated_at"])
        ticket_sale_publish(sale)
    if waiting:
        log.info("%d waiting ticket sale(s) linked to event %s", len(waiting), event.pk)
    return len(waiting)
