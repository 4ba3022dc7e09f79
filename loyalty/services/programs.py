"""External bonus programs (SamoSale, UDS, MAXMA…) as the ledger of record.

When a program has a connection, its points live there: the hub's entries for it are a
mirror of the program's history, written only from what the program reports. Changes the
hub originates (a manager's grant, a CRM grant, a mass accrual, a receipt, a refund) become
``ProgramRequest`` rows sent through the outbox, so an outage delays them and loses
nothing; quotes and confirmations for an order at a till or a site are asked synchronously.
Every change the program reports (webhook, nightly reconciliation) is mirrored once by the
operation's id, and a balance that still differs is corrected and reported.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hub.logging import mask_text
from hub.models import Connection, Contact, Outbox
from hub.services.contacts import ContactData, contact_publish, contact_upsert
from hub.services.deals import crm_deal_note
from hub.services.external_refs import external_ref_find, external_ref_for_local, external_ref_link
from hub.services.money import money
from hub.sync import registry
from hub.sync.errors import SyncError
from loyalty.models import Entry, Program, ProgramOrder, ProgramRequest, Reconciliation
from loyalty.ports import (
    BonusProgram,
    ClientNotFound,
    ProgramBalance,
    ProgramClient,
    ProgramError,
    ProgramLine,
    ProgramOperation,
    ProgramPurchase,
)
from loyalty.services.ledger import account_lock, ledger_mirror

log = logging.getLogger(__name__)
HISTORY_PAGE = 50
HISTORY_MAX_PAGES = 20  # a client's first sync reads up to 1,000 operations; older ones are covered by the balance


def program_port(program: Program) -> BonusProgram:
    connection = program.connection
    if connection is None:
        raise ProgramError(f"«{program}» — программа самого хаба, внешней у неё нет.")
    connector = registry.get(connection.system)
    if connector is None or not hasattr(connector, "bonus_program"):
        raise ProgramError(f"Подключение «{connection.name}» не бонусная программа ({connection.system}).")
    if not connection.enabled:
        raise ProgramError(f"Подключение «{connection.name}» выключено.", retryable=True)
    return connector.bonus_program(connection)


def program_message(exc: Exception) -> str:
    """What to tell a person when a program call failed (refusal or outage)."""
    if isinstance(exc, ProgramError):
        return exc.message
    return f"Программа не ответила: {exc}" if isinstance(exc, SyncError) else str(exc)


def program_client(program: Program, contact: Contact, *, port: BonusProgram | None = None,
                   create: bool = True) -> ProgramClient:
    """The contact's client in the program: linked before, found by phone, or registered."""
    connection = program.connection
    ref = external_ref_for_local(connection, "contact", contact.pk)
    if ref is not None:
        return ProgramClient(id=ref.external_id, phone=contact.phone)
    if not contact.phone:
        raise ProgramError("У клиента нет телефона, а программа находит клиентов по телефону.",
                           code="no_phone")
    port = port or program_port(program)
    client = port.find_client(contact.phone)
    if client is None:
        if not create:
            raise ClientNotFound(f"Клиента с этим телефоном нет в программе «{port.title}».")
        name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
        client = port.create_client(contact.phone, name=name, birth_date=contact.birth_date, email=contact.email)
    external_ref_link(connection, "contact", contact.pk, client.id)
    return client


def program_contact(program: Program, client: ProgramClient) -> Contact:
    """The hub's contact for a program's client (a client who joined at the venue becomes
    one, deduplicated by phone)."""
    ref = external_ref_find(program.connection, "contact", client.id)
    contact = Contact.objects.filter(pk=ref.local_id).first() if ref else None
    if contact is not None:
        return contact
    if not client.phone:
        raise ValidationError("The program's client has no phone to match a contact by.")
    contact, _ = contact_upsert(ContactData(phones=[client.phone]), connection=program.connection,
                                external_id=client.id)
    return contact


# ------------------------------------------------------------------ mirroring the program's word
@dataclass
class Snapshot:
    client: ProgramClient
    operations: list[ProgramOperation]  # newest first
    balance: ProgramBalance
    fetched_at: dt.datetime | None = None  # when the reading began


@dataclass
class Mirrored:
    operations: int = 0
    correction: Decimal = Decimal(0)


def _op_key(program: Program, op: ProgramOperation) -> str:
    return op.key or f"ext:{program.connection_id}:{op.id}"


def account_fetch(program: Program, client: ProgramClient, *, port: BonusProgram | None = None) -> Snapshot:
    """Read the client's recent history (until a page we mirrored already) and balance.
    Network only: run it outside a transaction, then ``account_mirror``."""
    port = port or program_port(program)
    started = timezone.now()
    operations: list[ProgramOperation] = []
    for page_no in range(HISTORY_MAX_PAGES):
        page = port.history(client, offset=page_no * HISTORY_PAGE, limit=HISTORY_PAGE)
        operations.extend(page)
        known = len(_known(program, page))
        if len(page) < HISTORY_PAGE or known >= len(page):
            break
    return Snapshot(client=client, operations=operations, balance=port.balance(client), fetched_at=started)


def account_mirror(program: Program, contact: Contact, snapshot: Snapshot) -> Mirrored:
    """Write the operations not mirrored yet, then correct what still differs from the
    program's balance. Credits go before debits, so the cached balance never dips below 0."""
    result = Mirrored()
    with transaction.atomic():
        account = account_lock(contact, program)
        seen: set[str] = set()
        fresh = []
        for op in reversed(snapshot.operations):  # oldest first
            key = _op_key(program, op)
            if key in seen or op.points == 0:
                continue
            seen.add(key)
            fresh.append((key, op))
        known = _known(program, [op for _, op in fresh], account)
        fresh = [(k, op) for k, op in fresh if op.id not in known]
        account.refresh_from_db(fields=["balance"])
        expected = account.balance + sum((money(op.points) for _, op in fresh), Decimal(0))
        # The mirror holds pending (locked) points too: they are entries, only not spendable yet.
        difference = money(snapshot.balance.available + snapshot.balance.pending) - expected
        if difference and snapshot.fetched_at and account.entries.filter(created_at__gte=snapshot.fetched_at).exists():
            difference = Decimal(0)  # the hub wrote meanwhile: this reading is stale, the next one decides
        if difference > 0:
            _correct(program, account, difference)
        for key, op in sorted(fresh, key=lambda item: item[1].points < 0):
            _, created = ledger_mirror(account, op.points, kind=_kind(op), reason=op.comment or _reason(op),
                                       key=key, source=Entry.Source.PROGRAM, source_ref=f"ext:{op.id}")
            result.operations += int(created)
        if difference < 0:
            _correct(program, account, difference)
        result.correction = difference
        account.pending = money(snapshot.balance.pending)
        account.expiring = [{"date": day.isoformat(), "points": str(money(points))}
                            for day, points in snapshot.balance.expiring]
        account.synced_at = timezone.now()
        account.save(update_fields=["pending", "expiring", "synced_at", "updated_at"])
        if result.operations or difference:
            contact_publish(contact)
    return result


def _known(program: Program, ops: list[ProgramOperation], account: Any = None) -> set[str]:
    """Ids of the operations the ledger holds already: by the hub's key, by the mirror's
    ``ext:<connection>:<id>`` key, or by an entry the hub wrote for it (``source_ref`` =
    ``ext:<id>``: a refund line a program reports without our key)."""
    by_key = {_op_key(program, op): op.id for op in ops}
    by_key.update({f"ext:{program.connection_id}:{op.id}": op.id for op in ops})
    found = {by_key[k] for k in Entry.objects.filter(idempotency_key__in=list(by_key))
             .values_list("idempotency_key", flat=True)}
    refs = {f"ext:{op.id}": op.id for op in ops}
    entries = Entry.objects.filter(source_ref__in=list(refs), account__program=program)
    if account is not None:
        entries = entries.filter(account=account)
    return found | {refs[r] for r in entries.values_list("source_ref", flat=True)}


def _kind(op: ProgramOperation) -> str:
    return op.kind if op.kind in Entry.Kind.values else Entry.Kind.ADJUST


def _reason(op: ProgramOperation) -> str:
    return {"earn": "Начисление в программе", "redeem": "Списание в программе", "expire": "Сгорание в программе",
            "refund": "Возврат в программе"}.get(op.kind, "Изменение в программе")


def _correct(program: Program, account: Any, difference: Decimal) -> None:
    log.warning("bonus program %s: account %s differed by %s; corrected", program.pk, account.pk, difference)
    ledger_mirror(account, difference, kind=Entry.Kind.ADJUST, source=Entry.Source.SYSTEM,
                  key=f"reconcile:{program.pk}:{account.pk}:{uuid.uuid4().hex[:12]}",
                  reason=f"Сверка с программой «{program}»: {difference:+}")


def account_sync(program: Program, contact: Contact, *, port: BonusProgram | None = None) -> Mirrored:
    port = port or program_port(program)
    client = program_client(program, contact, port=port, create=False)
    return account_mirror(program, contact, account_fetch(program, client, port=port))


def program_reconcile(program: Program) -> Reconciliation:
    """Nightly: every client the hub knows in the program, mirrored and compared; what
    differed is corrected and listed in the report."""
    report = Reconciliation.objects.create(program=program)
    details: list[dict[str, Any]] = []
    contact_ids = (program.connection.refs.filter(kind="contact").values_list("local_id", flat=True)
                   .order_by("local_id"))
    port = program_port(program)
    for contact in Contact.objects.filter(pk__in=list(contact_ids)).iterator(chunk_size=500):
        report.accounts += 1
        try:
            mirrored = account_sync(program, contact, port=port)
        except (ProgramError, SyncError, ValidationError) as exc:
            report.failures += 1
            details.append({"contact": contact.pk, "error": program_message(exc)[:300]})
            continue
        report.operations += mirrored.operations
        if mirrored.correction:
            report.differences += 1
            details.append({"contact": contact.pk, "difference": str(mirrored.correction)})
    report.details = details[:1000]
    report.finished_at = timezone.now()
    report.save()
    log.info("bonus program %s reconciled: %s accounts, %s corrected, %s failed", program.pk, report.accounts,
             report.differences, report.failures)
    return report


# ------------------------------------------------------------------ changes the hub asks for
def program_request(program: Program, contact: Contact, *, kind: str, key: str, source: str,
                    points: Decimal | int | str = 0, reason: str = "", actor: Any = None, order_ref: str = "",
                    payload: dict[str, Any] | None = None) -> ProgramRequest:
    """Queue a change for the program (idempotent by key); a grant needs points and a reason,
    as in the hub's own ledger."""
    if kind == ProgramRequest.Kind.ADJUST and (money(points) == 0 or not reason.strip()):
        raise ValidationError("Укажите ненулевое количество баллов и причину.")
    values = {"program": program, "contact": contact, "kind": kind, "points": money(points), "reason": reason[:255],
              "source": source, "actor": actor, "order_ref": order_ref, "payload": payload or {}}
    with transaction.atomic():
        request, created = ProgramRequest.objects.get_or_create(idempotency_key=key, defaults=values)
        if not created:
            if request.contact_id != contact.pk or request.points != values["points"] or request.kind != kind:
                raise ValidationError({"idempotency_key": f"Ключ {key!r} уже использован для другой операции."})
            return request
        program_request_queue([request.pk], program.connection)
    return request


def program_request_queue(ids: list[int], connection: Connection) -> int:
    """An outbox row for each request that has none waiting: straight to the program's
    connection (queued even while it is switched off; it is sent when switched on)."""
    waiting = set(Outbox.objects.filter(action="bonus.request", target_id__in=ids).exclude(
        status__in=[Outbox.Status.SENT, Outbox.Status.SKIPPED]).values_list("target_id", flat=True))
    rows = [Outbox(connection=connection, action="bonus.request", target_kind="bonus_request", target_id=pk)
            for pk in ids if pk not in waiting]
    Outbox.objects.bulk_create(rows)
    return len(rows)


def _lines(payload: dict[str, Any]) -> list[ProgramLine]:
    return [ProgramLine(sku=str(line["sku"]), name=str(line["name"]), price=money(line["price"]),
                        qty=Decimal(str(line.get("qty", 1))), category=str(line.get("category") or ""))
            for line in payload.get("lines") or []]


def program_request_send(request_id: int) -> str:
    """Make one queued change in the program and mirror it; returns the program's id for it.
    A refusal marks the request refused (with the program's reason) and is raised; an outage
    (SyncError, retryable ProgramError) is raised for the outbox to retry."""
    request = ProgramRequest.objects.select_related("program__connection", "contact").get(pk=request_id)
    if request.status != ProgramRequest.Status.PENDING:
        return ""
    program = request.program
    try:
        port = program_port(program)
        if request.kind == ProgramRequest.Kind.REFUND:
            external_id = _send_refund(program, port, request)
        else:
            client = program_client(program, request.contact, port=port)
            if request.kind == ProgramRequest.Kind.ADJUST:
                external_id = _send_adjust(program, port, client, request)
            else:
                external_id = _send_purchase(program, port, client, request)
    except ProgramError as exc:
        if not exc.retryable:
            _refused(request, exc.message)
        raise
    _answered(request, ProgramRequest.Status.DONE, "")
    return external_id


def _send_adjust(program: Program, port: BonusProgram, client: ProgramClient, request: ProgramRequest) -> str:
    operation = port.adjust(client, request.points, request.reason, request.idempotency_key)
    with transaction.atomic():
        account = account_lock(request.contact, program)
        ledger_mirror(account, request.points, kind=Entry.Kind.ADJUST, reason=request.reason,
                      key=request.idempotency_key, source=request.source, actor=request.actor,
                      source_ref=f"ext:{operation.id}")
        contact_publish(request.contact)
    note = request.payload.get("note")
    if note:
        account.refresh_from_db(fields=["balance"])
        verb = "начислено" if request.points > 0 else "списано"
        _note(note, f"Хаб: {verb} {abs(request.points)} баллов в программе «{port.title}». "
                    f"Баланс: {account.balance}.")
    return operation.id


def _send_purchase(program: Program, port: BonusProgram, client: ProgramClient, request: ProgramRequest) -> str:
    redeem = money(request.payload.get("redeem") or 0)
    lines = _lines(request.payload)
    purchase = port.confirm(client, request.idempotency_key, lines, redeem)
    _record_order(program, request.contact, request.order_ref, request.idempotency_key, purchase,
                  _total(lines), request.source, request.reason)
    return purchase.id


def _send_refund(program: Program, port: BonusProgram, request: ProgramRequest) -> str:
    order = ProgramOrder.objects.filter(program=program, order_ref=request.order_ref).first()
    if order is None:
        waiting = ProgramRequest.objects.filter(program=program, order_ref=request.order_ref,
                                                kind=ProgramRequest.Kind.PURCHASE,
                                                status=ProgramRequest.Status.PENDING).exists()
        if waiting:
            raise ProgramError("Покупка ещё не передана в программу; возврат подождёт её.", retryable=True)
        return ""  # the order never reached the program: nothing to give back
    amount = money(request.payload["amount"]) if request.payload.get("amount") is not None else None
    # Some programs (MAXMA) must be told a full refund's money: what is left of what was paid.
    paid_left = money(order.paid * (1 - order.refunded / order.total)) if order.total > 0 else None
    refund = port.refund(order.external_id, request.idempotency_key, amount, paid_left=paid_left)
    with transaction.atomic():
        if not ProgramRequest.objects.select_for_update().filter(
                pk=request.pk, status=ProgramRequest.Status.PENDING).update(status=ProgramRequest.Status.DONE,
                                                                             done_at=timezone.now()):
            return refund.id  # answered by an earlier attempt: counted then
        ProgramOrder.objects.filter(pk=order.pk).update(
            refunded=F("refunded") + (amount if amount is not None else order.total - order.refunded))
        account = account_lock(request.contact, program)
        for points, suffix, text in ((refund.returned, "return", "возвращены баллы оплаты"),
                                     (-refund.cancelled, "cancel", "списаны начисленные баллы")):
            if points:
                ledger_mirror(account, points, kind=Entry.Kind.REFUND, source=request.source,
                              key=f"{request.idempotency_key}:{suffix}", source_ref=f"ext:{refund.id}:{suffix}",
                              reason=f"{request.reason or 'Возврат'}: {text}")
        contact_publish(request.contact)
    return refund.id


def _total(lines: list[ProgramLine]) -> Decimal:
    return money(sum((line.amount for line in lines), Decimal(0)))


def _record_order(program: Program, contact: Contact, order_ref: str, key: str, purchase: ProgramPurchase,
                  total: Decimal, source: str, reason: str) -> dict[str, Entry]:
    entries = {}
    with transaction.atomic():
        ProgramOrder.objects.get_or_create(program=program, order_ref=order_ref, defaults={
            "external_id": purchase.id, "redeemed": money(purchase.redeemed), "earned": money(purchase.earned),
            "total": total, "paid": total - money(purchase.redeemed)})
        account = account_lock(contact, program)
        for points, suffix in ((money(purchase.earned), "earn"), (-money(purchase.redeemed), "redeem")):
            if points:
                entries[suffix], _ = ledger_mirror(
                    account, points, kind=suffix, source=source, key=f"{key}:{suffix}", source_ref=order_ref,
                    reason=f"{reason or 'Заказ'} {order_ref}")
        contact_publish(contact)
    return entries


def _answered(request: ProgramRequest, status: str, error: str) -> None:
    ProgramRequest.objects.filter(pk=request.pk).update(status=status, error=error[:2000], done_at=timezone.now())


def _refused(request: ProgramRequest, message: str) -> None:
    _answered(request, ProgramRequest.Status.REFUSED, message)
    log.warning("bonus program request %s refused: %s", request.pk, mask_text(message[:200]))
    note = request.payload.get("note")
    if note:
        _note(note, f"Хаб: программа не приняла операцию: {message}")


def _note(note: dict[str, Any], text: str) -> None:
    connection = Connection.objects.filter(pk=note.get("connection")).first()
    if connection is not None:
        crm_deal_note(connection, str(note.get("deal")), text)


# ------------------------------------------------------------------ orders at a till or a site
def program_lines(lines: list[Any]) -> list[ProgramLine]:
    """Order lines (``earning.OrderLine``) as the program sees them."""
    result = []
    for line in lines:
        product = line.product
        result.append(ProgramLine(
            sku=str(product.pk) if product else "-", name=product.name if product else "Позиция",
            price=money(line.amount), category=product.category.name if product and product.category else ""))
    return result


def program_confirm(program: Program, contact: Contact, order_ref: str, lines: list[ProgramLine],
                    redeem: Decimal, source: str) -> dict[str, Entry]:
    """Pay ``redeem`` points and earn in the program, now (the till waits for the answer);
    the same order again is the same purchase there and the same entries here."""
    key = f"order:{order_ref}"
    port = program_port(program)
    client = program_client(program, contact, port=port)
    purchase = port.confirm(client, key, lines, money(redeem))
    return _record_order(program, contact, order_ref, key, purchase, _total(lines), source, "Заказ")
