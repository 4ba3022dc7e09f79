"""Writes of the connection wizard: save what the operator typed (through connection_upsert,
the one way connections are written), check, and the final end-to-end test — a marked test
contact pushed through the normal outbox to this one connection and read back, or one pull."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.models import Connection, Contact, Outbox
from hub.services.connections import connection_check, connection_pull, connection_upsert
from hub.services.contacts import ContactData, contact_upsert
from hub.services.external_refs import external_ref_for_local
from hub.services.outbox import outbox_drain
from hub.sync import registry
from hub.sync.errors import SyncError
from hub.sync.types import CheckResult

log = logging.getLogger(__name__)

TEST_NAME = "Тестовый контакт хаба"
#: NANP 555-0100…0199 is reserved for fiction: no real subscriber ever holds this number.
TEST_PHONE = "+12025550142"
CONTACT_UPSERT = "contact.upsert"
FIELD_LABELS = {"first_name": "Имя", "last_name": "Фамилия", "middle_name": "Отчество", "phones": "Телефоны",
                "emails": "E-mail", "birth_date": "Дата рождения"}


def wizard_connection_save(*, connection: Connection | None, system: str, name: str,
                           base_url: str | None = None, time_zone: str | None = None,
                           credentials: dict[str, Any] | None = None,
                           settings: dict[str, Any] | None = None) -> Connection:
    """Create the connection, or update the one being set up (found by its name, which the
    wizard does not change). Blank secrets are not passed, so stored ones are kept."""
    if connection is None and Connection.objects.filter(name=name).exists():
        raise ValidationError({"name": "Подключение с таким названием уже есть — откройте его из списка ниже."})
    saved, _ = connection_upsert(
        name=connection.name if connection else name, system=None if connection else system,
        base_url=base_url, time_zone=time_zone, credentials=credentials or None, settings=settings or None)
    return saved


def wizard_check(connection: Connection) -> CheckResult:
    """connection_check, with anything unexpected turned into a red answer instead of a 500."""
    try:
        return connection_check(connection)
    except Exception as exc:  # a connector's bug or an odd answer must not break the page
        log.exception("wizard: check of connection %s crashed", connection.pk)
        return CheckResult(ok=False, message=f"Проверка не удалась: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------- final check: push


@dataclass
class PushCheck:
    """What became of the test contact in the system."""

    ok: bool
    message: str
    contact: Contact | None = None
    external_id: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    outbox: Outbox | None = None

    @property
    def rows(self) -> list[tuple[str, str]]:
        """The read-back fields as the operator reads them: (label, text)."""
        return [(FIELD_LABELS.get(key, key), ", ".join(map(str, value)) if isinstance(value, list | tuple)
                 else "" if value is None else str(value)) for key, value in self.fields.items()]


def wizard_test_contact() -> Contact:
    """The marked test contact, found by its reserved phone or made once; its push is queued
    by contact_upsert like any contact change."""
    contact, _ = contact_upsert(ContactData(first_name=TEST_NAME, phones=[TEST_PHONE]))
    return contact


def _queue_for(connection: Connection) -> tuple[Contact, Outbox | None]:
    """Queue the test contact through the normal publish path, for this connection only: the
    rows queued for every other subscriber are skipped in the same transaction, before any
    worker can see them — the operator tests one system, the others must not get a stranger."""
    with transaction.atomic():
        contact = wizard_test_contact()
        mine = Outbox.objects.filter(action=CONTACT_UPSERT, target_kind="contact", target_id=contact.pk,
                                     status=Outbox.Status.PENDING)
        mine.exclude(connection=connection).update(
            status=Outbox.Status.SKIPPED, last_error=f"тестовый контакт мастера подключения — только для "
                                                     f"«{connection.name}»")
        row = mine.filter(connection=connection).order_by("-pk").first()
    return contact, row


def _send_now(row: Outbox) -> Outbox:
    """Send this one row at once, as a worker's drain would (a worker that took it first keeps it)."""
    outbox_drain(only=[row.pk])
    return Outbox.objects.get(pk=row.pk)


def wizard_push_test_contact(connection: Connection) -> PushCheck:
    """Push the test contact to this connection now, then read it back from the system.
    Again and again it updates the same record there (the external ref), never a second one."""
    connection.refresh_from_db()
    if not connection.enabled:
        return PushCheck(ok=False, message="Подключение выключено: хаб ничего в него не отправляет. Включите его в "
                                           "карточке подключения.")
    try:
        contact, row = _queue_for(connection)
    except ValidationError as exc:
        return PushCheck(ok=False, message="; ".join(exc.messages))
    if row is not None:
        row = _send_now(row)
        if row.status == Outbox.Status.SENDING:
            return PushCheck(ok=False, contact=contact, outbox=row,
                             message="Контакт сейчас отправляет фоновый обработчик; обновите проверку через "
                                     "несколько секунд.")
        if row.status != Outbox.Status.SENT:
            return PushCheck(ok=False, contact=contact, outbox=row,
                             message=row.last_error or f"Отправка не удалась (статус {row.get_status_display()}).")
    return wizard_read_back(connection, contact, row)


def wizard_read_back(connection: Connection, contact: Contact, row: Outbox | None = None) -> PushCheck:
    """The test contact as the system holds it, read by its id there (CRM port get_contact)."""
    ref = external_ref_for_local(connection, "contact", contact.pk)
    if ref is None or ref.missing_since:
        return PushCheck(ok=False, contact=contact, outbox=row,
                         message="Хаб не знает id тестового контакта в этой системе: контакт не был отправлен "
                                 "(подключение не принимает контакты?).")
    connector = registry.get(connection.system)
    read = getattr(connector.adapter(connection), "get_contact", None) if hasattr(connector, "adapter") else None
    if read is None:
        return PushCheck(ok=True, contact=contact, outbox=row, external_id=ref.external_id,
                         message=f"Контакт отправлен: id {ref.external_id} в {connector.title} "
                                 "(прочитать его обратно эта система не позволяет).")
    try:
        data = read(ref.external_id)
    except Exception as exc:  # an outage or an odd answer: said on the page, not a 500
        if not isinstance(exc, SyncError):
            log.exception("wizard: reading the test contact back from connection %s failed", connection.pk)
        return PushCheck(ok=False, contact=contact, outbox=row, external_id=ref.external_id,
                         message=f"Контакт отправлен (id {ref.external_id}), но прочитать его не удалось: {exc}")
    if data is None:
        return PushCheck(ok=False, contact=contact, outbox=row, external_id=ref.external_id,
                         message=f"В {connector.title} нет контакта id {ref.external_id} (удалён там?). "
                                 "Запустите проверку ещё раз — он будет создан заново.")
    return PushCheck(ok=True, contact=contact, outbox=row, external_id=ref.external_id, fields=data,
                     message=f"Контакт дошёл: id {ref.external_id} в {connector.title}.")


# ---------------------------------------------------------------------- final check: pull

PULL_LABELS = {"clients": "клиентов", "checks": "покупок (чеков)", "passes": "проходов", "preorders": "предзаказов",
               "products": "товаров", "contacts": "контактов"}


@dataclass
class PullCheck:
    ok: bool
    message: str
    rows: list[tuple[str, int]] = field(default_factory=list)  # (what, how many), as the operator reads it


def _pull_label(key: str) -> str:
    base, _, rest = key.partition(" ")
    label = PULL_LABELS.get(base, base)
    suffix = {"unchanged": "без изменений", "failed": "— ошибка", "received": "ждут обработки",
              "rejected": "отклонено"}.get(rest, rest)
    return f"{label} {suffix}".strip()


def wizard_pull(connection: Connection) -> PullCheck:
    """One pull, as the worker runs it; the counts say what arrived."""
    try:
        report = connection_pull(connection)
    except (ValidationError, SyncError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return PullCheck(ok=False, message=f"Забрать данные не удалось: {message}")
    except Exception as exc:  # recorded on the connection by connection_pull; shown, not a 500
        log.exception("wizard: pull of connection %s crashed", connection.pk)
        return PullCheck(ok=False, message=f"Забрать данные не удалось: {type(exc).__name__}: {exc}")
    if not report.done and not report.counts:
        return PullCheck(ok=False, message="Эти данные уже забирает фоновый обработчик; повторите через минуту.")
    rows = [(_pull_label(key), count) for key, count in sorted(report.counts.items())]
    arrived = [f"{PULL_LABELS[key]} {report.counts[key]}" for key in PULL_LABELS if report.counts.get(key)]
    return PullCheck(ok=True, rows=rows, message=("Пришло: " + ", ".join(arrived) + ".") if arrived
                     else "Новых данных нет: всё, что есть в системе, хаб уже забрал.")
