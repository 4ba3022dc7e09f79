"""Pull from a connection now; --full re-reads everything (first backfill)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hub.models import Connection
from hub.services.connections import connection_pull
from hub.sync.errors import SyncError


class Command(BaseCommand):
    help = "Pull from one connection (by name or id) with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("connection", help="connection name or id")
        parser.add_argument("--full", action="store_true", help="ignore cursors, backfill from the beginning")

    def handle(self, *args: object, **opts: object) -> None:
        ref = str(opts["connection"])
        connection = Connection.objects.filter(name=ref).first() or (
            Connection.objects.filter(pk=int(ref)).first() if ref.isdigit() else None)
        if connection is None:
            raise CommandError(f"no connection named {ref!r}")
        bars: dict[str, tqdm] = {}

        def progress(entity: str, done: int, total: int | None) -> None:
            bar = bars.get(entity)
            if bar is None:
                bar = bars[entity] = tqdm(desc=entity, total=total, unit=" rows", file=self.stderr._out)
            bar.update(done - bar.n)

        try:
            report = connection_pull(connection, full=opts["full"], progress=progress)
        except (ValidationError, SyncError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            for bar in bars.values():
                bar.close()
        if not report.done:
            raise CommandError("another pull of this connection is running; try again later")
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(report.counts.items())) or "nothing new"
        self.stdout.write(f"{connection.name}: {summary}")
