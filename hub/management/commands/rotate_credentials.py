"""Re-encrypt every stored credential with the current first key (after a key change)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from hub.models import Connection


class Command(BaseCommand):
    help = ("Re-encrypt connection credentials with the newest key of FIELD_ENCRYPTION_KEYS (or SECRET_KEY). "
            "Run after adding a key; then old keys can be dropped from the environment.")

    def handle(self, *args: object, **opts: object) -> None:
        count = 0
        with transaction.atomic():
            for connection in Connection.objects.select_for_update():
                connection.save(update_fields=["credentials"])
                count += 1
        self.stdout.write(f"{count} connection(s) re-encrypted")
