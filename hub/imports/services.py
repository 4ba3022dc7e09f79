"""Import steps as the admin drives them: check (in the request: reads only, quick), then
apply (in the background: every contact goes through ``contact_upsert`` with its Outbox row,
which for thousands of rows outlasts a web request)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from hub.history import history_actor
from hub.imports.contacts import ContactTable
from hub.imports.products import ProductTable
from hub.imports.storage import upload_claim, upload_finish, upload_store, upload_take
from hub.imports.table import Report, TableSpec

log = logging.getLogger(__name__)
TABLES: dict[str, type[TableSpec]] = {ContactTable.key: ContactTable, ProductTable.key: ProductTable}


def import_check(table: str, name: str, data: bytes, *, user_id: int, options: dict[str, Any]) -> str:
    """Validate the file (ValidationError when it cannot be read at all), keep it with its
    report for the apply step; returns the token."""
    report = TABLES[table](**options).check(name, data)
    token = upload_store(data, name=name, table=table, user_id=user_id, options=options, report=report.to_json())
    log.info("import %s checked by user %s: %s", table, user_id, report.totals)
    return token


def import_start(table: str, token: str, *, user_id: int) -> None:
    """Claim the checked file and queue the apply (after the current transaction, if any)."""
    from hub.imports.tasks import import_apply_task  # tasks import this module

    upload_claim(token, table=table, user_id=user_id)
    transaction.on_commit(lambda: import_apply_task.delay(token))


def import_apply(token: str) -> Report | None:
    """Apply a claimed file: only its valid rows, each in its own transaction. Planned again
    against the database as it is now, so a repeated run (a task delivered twice) finds the
    rows done and changes nothing. None when there was nothing to apply."""
    taken = upload_take(token)
    if taken is None:
        return None
    data, record = taken
    try:
        with history_actor(record.get("user")):
            report = TABLES[record["table"]](**record["options"]).apply(record["name"], data)
    except Exception as exc:
        log.exception("import %s %s failed", record["table"], token[:6])
        upload_finish(token, report=None, error="Импорт прерван из-за внутренней ошибки "
                                                f"({type(exc).__name__}). Записанные строки сохранены; "
                                                "загрузите файл снова — повтор ничего не задвоит.")
        raise
    upload_finish(token, report=report.to_json())
    log.info("import %s applied for user %s: %s", record["table"], record["user"], report.totals)
    return report
