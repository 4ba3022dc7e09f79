"""Queue depth, dead letters and last successful syncs, per connection."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandParser

from hub.models import Inbox
from hub.selectors import connection_statuses


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "never"


class Command(BaseCommand):
    help = "Sync health: per connection queue depth, retries, dead letters, last pull/push."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: object, **opts: object) -> None:
        rows = connection_statuses()
        inbox_waiting = Inbox.objects.filter(status=Inbox.Status.RECEIVED).count()
        if opts["json"]:
            self.stdout.write(json.dumps({
                "inbox_waiting": inbox_waiting,
                "connections": [{
                    "name": r.connection.name, "system": r.connection.system, "enabled": r.connection.enabled,
                    "queued": r.queued, "failing": r.failing, "dead": r.dead, "inbox_failed": r.inbox_failed,
                    "last_pull_at": r.last_pull_at, "last_push_at": r.last_push_at, "last_error": r.last_error,
                } for r in rows],
            }, default=str, indent=2))
            return
        header = f"{'connection':30} {'system':10} {'queued':>7} {'retry':>6} {'dead':>5} {'in-fail':>7}  " \
                 f"{'last pull':19}  {'last push':19}"
        self.stdout.write(header)
        for r in rows:
            name = r.connection.name[:30] + ("" if r.connection.enabled else " (off)")
            self.stdout.write(f"{name:30} {r.connection.system:10} {r.queued:7} {r.failing:6} {r.dead:5} "
                              f"{r.inbox_failed:7}  {_when(r.last_pull_at):19}  {_when(r.last_push_at):19}")
            if r.last_error:
                self.stdout.write(f"    last error: {r.last_error[:200]}")
        self.stdout.write(f"inbox events waiting: {inbox_waiting}")
