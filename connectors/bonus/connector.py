"""The hub side of every external bonus program, in terms of the bonus-program port
(``loyalty.ports``): queued changes pushed to the program, its balance-change webhooks
mirrored into the ledger. Each program's package supplies the adapter and reads its webhook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from connectors.base.connector import Connector
from hub.models import Connection, Inbox, Outbox
from hub.sync.errors import RateLimited, SyncError
from hub.sync.types import CheckResult, PushResult
from loyalty.models import Program, ProgramRequest
from loyalty.ports import BonusProgram, ProgramClient, ProgramError
from loyalty.services.programs import account_fetch, account_mirror, program_contact, program_request_send

CLIENT_CHANGED = "bonus.client_changed"


class BonusProgramConnector(Connector):
    subscribes = frozenset({"bonus.request"})
    adapter_class: Callable[[Connection], BonusProgram]

    def bonus_program(self, connection: Connection) -> BonusProgram:
        return self.adapter_class(connection)

    @staticmethod
    def program(connection: Connection) -> Program:
        program = Program.objects.filter(connection=connection).first()
        if program is None:
            raise ValidationError(f"No bonus program uses the connection {connection.name!r}; "
                                  "pick it in the program's settings.")
        return program

    def accepts(self, connection: Connection, action: str, target_kind: str, target_id: int | None,
                origin: Connection | None) -> bool:
        return ProgramRequest.objects.filter(pk=target_id, program__connection=connection).exists()

    def check_connection(self, connection: Connection) -> CheckResult:
        try:
            about = self.bonus_program(connection).check()
        except (ProgramError, SyncError) as exc:
            return CheckResult(ok=False, message=f"{self.title}: не удалось подключиться: {exc}")
        return CheckResult(ok=True, message=f"{self.title}: подключение работает. {about}")

    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        """One call per request (programs have no batch writes). A rate limit stops the batch:
        the rest waits for the next drain instead of hammering the program."""
        results: dict[int, PushResult] = {}
        for row in rows:
            try:
                external_id = program_request_send(int(row.target_id or 0))
            except ProgramError as exc:
                results[row.pk] = PushResult(ok=False, retryable=exc.retryable, error=exc.message,
                                             retry_after=exc.retry_after)
            except ProgramRequest.DoesNotExist:
                results[row.pk] = PushResult(ok=False, retryable=False, error="the request no longer exists")
            except SyncError as exc:
                result = PushResult(ok=False, retryable=exc.retryable, error=str(exc), retry_after=exc.retry_after,
                                    rate_limited=isinstance(exc, RateLimited))
                for rest in rows[rows.index(row):]:
                    results[rest.pk] = result
                break
            else:
                results[row.pk] = PushResult(ok=True, external_id=external_id)
        return results

    # ------------------------------------------------------------------ inbound
    def fetch_for_inbox(self, row: Inbox) -> Any:
        """The program's webhooks say "this client changed": read its history and balance."""
        if row.kind != CLIENT_CHANGED or row.connection is None:
            return None
        client_id = str(row.payload.get("client_id") or "")
        if not client_id:
            return None
        client = ProgramClient(id=client_id, phone=str(row.payload.get("phone") or ""))
        try:
            return account_fetch(self.program(row.connection), client)
        except ProgramError as exc:
            if exc.retryable:
                raise
            return exc  # refused for good (e.g. no such client): retrying cannot help, handle_inbox rejects

    def handle_inbox(self, row: Inbox, fetched: Any = None) -> Any:
        if row.kind != CLIENT_CHANGED:
            raise ValidationError(f"Unknown bonus program event {row.kind!r}.")
        if fetched is None:
            raise ValidationError("The event names no client.")
        if isinstance(fetched, ProgramError):
            raise ValidationError(f"{self.title}: {fetched.message}")
        program = self.program(row.connection)
        contact = program_contact(program, fetched.client)
        mirrored = account_mirror(program, contact, fetched)
        return {"operations": mirrored.operations, "correction": str(mirrored.correction)}
