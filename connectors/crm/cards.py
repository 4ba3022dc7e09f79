"""What the hub writes into a CRM: the contact card (with children, last pass, last 10
transactions, messenger ids) and deals per event kind. Built from the domain, CRM-neutral."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, Prefetch, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from bookings.models import Booking, Preorder
from connectors.crm.port import CrmContact, CrmDeal, CrmProductRow
from events.models import TicketSale
from hub.models import ConsentRecord, Contact, ContactIdentity, ContactRelation, Pass, Purchase
from hub.models.consent import Purpose
from hub.services.money import money
from hub.services.normalize import phone_key
from loyalty.models import Account, Entry
from mailings.models import NpsSurvey

LAST_TRANSACTIONS = 10
BONUS_HISTORY = 5


def _local(value: Any, tz: str) -> str:
    return timezone.localtime(value, timezone=ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


def contact_card(contact: Contact, tz: str) -> CrmContact:
    """Reads only what ``contacts_for_cards`` prefetched: a batch of cards costs a few queries."""
    identities = [(i.kind, i.value) for i in contact.identities.all()]
    children = [f"{link.child.first_name} {link.child.last_name}".strip()
                + (f", {link.child.birth_date:%d.%m.%Y}" if link.child.birth_date else "")
                for link in contact.children_links.all()]
    purchases = sorted(contact.purchases.all(), key=lambda p: p.purchased_at, reverse=True)[:LAST_TRANSACTIONS]
    card = {
        "children": "\n".join(children),
        "last_pass": _local(contact.last_pass_at, tz) if contact.last_pass_at else "",
        "transactions": "\n".join(f"{_local(p.purchased_at, tz)} — {p.total} ₽" for p in purchases),
        "messengers": ", ".join(f"{kind}: {value}" for kind, value in identities
                                if kind in (ContactIdentity.Kind.TELEGRAM, ContactIdentity.Kind.VK)),
        "consent": consent_line(contact, tz),
        "nps": nps_line(contact, tz),
        **bonus_lines(contact, tz),
    }
    phones = [contact.phone] if contact.phone else []
    phones += [v for k, v in identities if k == ContactIdentity.Kind.PHONE and v not in phones]
    emails = [contact.email] if contact.email else []
    emails += [v for k, v in identities if k == ContactIdentity.Kind.EMAIL and v not in emails]
    return CrmContact(first_name=contact.first_name, last_name=contact.last_name, middle_name=contact.middle_name,
                      phones=phones, emails=emails, birth_date=contact.birth_date,
                      card={k: v for k, v in card.items() if v})


def consent_line(contact: Contact, tz: str) -> str:
    """"Обработка ПДн: да, с 12.03.2026; Рассылки: нет" — what a manager must check before calling."""
    active: dict[str, Any] = {}
    for record in contact.consents.all():  # prefetched: active only, oldest first
        active.setdefault(record.purpose, record.granted_at)
    parts = []
    for purpose, label in ((Purpose.PERSONAL_DATA, "Обработка ПДн"), (Purpose.MARKETING, "Рассылки")):
        since = active.get(purpose)
        parts.append(f"{label}: да, с {_local(since, tz)[:10]}" if since else f"{label}: нет")
    return "; ".join(parts)


def nps_line(contact: Contact, tz: str) -> str:
    """"9 из 10, 24.11.2026: всё понравилось" — the client's last NPS answer (prefetched)."""
    answered = list(contact.nps_surveys.all())
    if not answered:
        return ""
    last = answered[0]
    return f"{last.score} из 10, {_local(last.answered_at, tz)[:10]}" + (f": {last.comment}" if last.comment else "")


def _points(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else f"{value:.2f}"


def bonus_lines(contact: Contact, tz: str) -> dict[str, str]:
    """Balance and the last few ledger entries, per program (prefetched)."""
    accounts = list(contact.bonus_accounts.all())
    if not accounts:
        return {}
    balance = "; ".join(f"{_points(a.balance)} баллов" + (f" ({a.program})" if len(accounts) > 1 else "")
                        for a in accounts)
    entries = sorted(contact.bonus_recent, key=lambda e: (e.created_at, e.pk), reverse=True)  # type: ignore[attr-defined]
    history = "\n".join(f"{_local(e.created_at, tz)[:10]} {'+' if e.points > 0 else ''}{_points(e.points)} — {e.reason}"
                         for e in entries[:BONUS_HISTORY])
    return {"bonus_balance": balance, "bonus_history": history}


def contacts_for_cards(ids: list[int]) -> dict[int, Contact]:
    contacts = Contact.objects.filter(pk__in=ids, merged_into__isnull=True).prefetch_related(
        "identities",
        Prefetch("children_links", queryset=ContactRelation.objects.select_related("child").order_by("pk")),
        Prefetch("purchases", queryset=Purchase.objects.only("pk", "contact_id", "purchased_at", "total")),
        Prefetch("consents", queryset=ConsentRecord.objects.filter(withdrawn_at__isnull=True).order_by("granted_at")),
        Prefetch("bonus_accounts", queryset=Account.objects.select_related("program")),
        Prefetch("nps_surveys", queryset=NpsSurvey.objects.filter(answered_at__isnull=False)
                 .order_by("-answered_at", "-pk")),
    )
    found = {c.pk: c for c in contacts}
    recent = (Entry.objects.filter(account__contact_id__in=list(found))
              .annotate(contact_id=F("account__contact_id"),
                        n=Window(RowNumber(), partition_by=F("account__contact_id"),
                                 order_by=[F("created_at").desc(), F("pk").desc()]))
              .filter(n__lte=BONUS_HISTORY))
    for contact in found.values():
        contact.bonus_recent = []  # type: ignore[attr-defined]
    for entry in recent:
        found[entry.contact_id].bonus_recent.append(entry)  # type: ignore[attr-defined]
    return found


def neutral_values(data: dict[str, Any]) -> dict[str, Any]:
    """The exchanged part of a contact in one shape for both directions: the echo fingerprint."""
    phones = [phone_key(str(raw)) for raw in data.get("phones") or []]
    return {"first_name": str(data.get("first_name") or "").strip(),
            "last_name": str(data.get("last_name") or "").strip(),
            "phones": sorted(set(phones)), "emails": sorted({str(e).strip().lower() for e in data.get("emails") or []})}


def card_values(card: CrmContact) -> dict[str, Any]:
    return neutral_values({"first_name": card.first_name, "last_name": card.last_name, "phones": card.phones,
                           "emails": card.emails})


def card_matches(card: CrmContact, data: dict[str, Any]) -> bool:
    """Their contact (neutral shape) is this card's person by the hub's own keys: a shared phone or
    e-mail; a card with neither, by its exact name. How a lost create is recognised."""
    ours, theirs = card_values(card), neutral_values(data)
    if ours["phones"] or ours["emails"]:
        return bool(set(ours["phones"]) & set(theirs["phones"]) or set(ours["emails"]) & set(theirs["emails"]))
    name = (ours["first_name"], ours["last_name"])
    return any(name) and name == (theirs["first_name"], theirs["last_name"])


def purchase_deals(purchase: Purchase, route: dict[str, str], per: str) -> list[CrmDeal]:
    """One deal per ticket line (default), or one per receipt."""
    lines = list(purchase.lines.select_related("product").order_by("pk"))
    rows = [CrmProductRow(name=ln.product_name or str(ln.product or ""), price=ln.price, quantity=ln.quantity,
                          local_product_id=ln.product_id) for ln in lines]
    when = timezone.localtime(purchase.purchased_at).strftime("%d.%m.%Y %H:%M")
    if per == "receipt":
        return [CrmDeal(title=f"Покупка {purchase.number or purchase.pk} от {when}", amount=purchase.total,
                        pipeline_id=route["pipeline_id"], stage_id=route["stage_id"], products=rows)]
    return [CrmDeal(title=f"{row.name} — {when}", amount=money(row.price * row.quantity),
                    pipeline_id=route["pipeline_id"], stage_id=route["stage_id"], products=[row]) for row in rows]


def pass_deal(row: Pass, route: dict[str, str]) -> CrmDeal:
    when = timezone.localtime(row.passed_at).strftime("%d.%m.%Y %H:%M")
    place = str(row.service_point or "точка обслуживания")
    what = f" — {row.product}" if row.product else ""
    return CrmDeal(title=f"Проход: {place}{what}, {when}", amount=row.amount, pipeline_id=route["pipeline_id"],
                   stage_id=route["stage_id"],
                   products=[CrmProductRow(name=str(row.product), price=row.amount, local_product_id=row.product_id)]
                   if row.product else [])


def preorder_deal(preorder: Preorder, route: dict[str, str]) -> CrmDeal:
    when = timezone.localtime(preorder.scheduled_for).strftime("%d.%m.%Y %H:%M") if preorder.scheduled_for else ""
    return CrmDeal(title=f"Предзаказ №{preorder.pk} {when}".strip(), amount=preorder.total,
                   pipeline_id=route["pipeline_id"], stage_id=route["stage_id"],
                   products=[CrmProductRow(name=str(ln.product), price=ln.price, quantity=ln.quantity,
                                           local_product_id=ln.product_id)
                             for ln in preorder.lines.select_related("product")])


def booking_deal(booking: Booking, route: dict[str, str]) -> CrmDeal:
    start, end = timezone.localtime(booking.starts_at), timezone.localtime(booking.ends_at)
    places = ", ".join(str(r) for r in booking.resources.order_by("kind", "name"))
    state = "" if booking.status != Booking.Status.CANCELLED else " (отменена)"
    return CrmDeal(title=f"Бронь №{booking.pk}: {places}, {start:%d.%m.%Y %H:%M}–{end:%H:%M}{state}",
                   amount=booking.total, pipeline_id=route["pipeline_id"], stage_id=route["stage_id"],
                   products=[CrmProductRow(name=str(ln.product), price=ln.price, quantity=ln.quantity,
                                           local_product_id=ln.product_id)
                             for ln in booking.lines.select_related("product").order_by("pk")])


def ticket_sale_deal(sale: TicketSale, route: dict[str, str]) -> CrmDeal:
    """A site order in the "ticket sales" pipeline, linked to its event's deal through the
    field the operator named (an order for an event not known yet is linked when it is)."""
    event = sale.event
    what = f"{event.title}, {timezone.localtime(event.starts_at):%d.%m.%Y %H:%M}" if event and event.starts_at else (
        event.title if event else f"событие сайта {sale.site_event_id}")
    state = "Возврат: " if sale.status == TicketSale.Status.REFUNDED else ""
    lines = list(sale.purchase.lines.order_by("pk")) if sale.purchase else []
    link_field = str((event.setup.ticket_fields or {}).get("event_deal") or "") if event else ""
    return CrmDeal(title=f"{state}Билеты: {what} — заказ №{sale.order_id}", amount=sale.amount,
                   pipeline_id=route["pipeline_id"], stage_id=route["stage_id"],
                   products=[CrmProductRow(name=ln.product_name, price=ln.price, quantity=ln.quantity,
                                           local_product_id=ln.product_id) for ln in lines],
                   field_values={link_field: event.crm_deal_id} if link_field and event else {})
