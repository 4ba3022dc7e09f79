"""What the fault tests send to, read in neutral terms: a connection, the emulator behind it,
what it holds and how many write requests reached it; and the clients they send."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests
from django.db.models import QuerySet

from connectors.webhook.emulator import WebhookSystemEmulator
from hub.models import Connection, Contact, Outbox
from hub.services.contacts import ContactData, contact_upsert


class CountingWebhookEmulator(WebhookSystemEmulator):
    """The generic-protocol system, also counting every event it is sent, repeats included:
    its receiver dedupes by event id, so its stored state alone cannot show a second send."""

    def reset(self) -> None:
        super().reset()
        self.sent_ids: Counter[str] = Counter()

    def _apply(self, event: Any) -> dict[str, Any]:
        if isinstance(event, dict):
            self.sent_ids[str(event.get("id"))] += 1
        return super()._apply(event)


class Target:
    """Read over HTTP (``/_emulator/state``), so the emulator may run in a process of its own;
    ``app`` is the emulator object when it runs in ours."""

    def __init__(self, connection: Connection, url: str, write_path: str, app: Any = None) -> None:
        self.connection, self.url, self.write_path, self.app = connection, url, write_path, app

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_emulator/state", timeout=10).json()

    def fault(self, **spec: Any) -> None:
        requests.post(f"{self.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()

    def writes(self) -> list[dict[str, Any]]:
        """Write requests that reached the emulator (logged on arrival, before any latency)."""
        return [r for r in self.state()["requests"] if r["method"] == "POST" and r["path"] == self.write_path]

    def names(self) -> list[str]:
        """The contacts they hold, by last name (one per hub contact in these tests)."""
        return sorted(str(c.get("last_name")) for c in self.state()["contacts"])

    def their_ids(self) -> list[str]:
        return sorted(str(c["id"]) for c in self.state()["contacts"])


def make_contacts(count: int) -> list[Contact]:
    """``count`` clients, each queued for every connection; last names ``N000``… tell them apart."""
    return [contact_upsert(ContactData(first_name="Fault", last_name=f"N{i:03d}",
                                       phones=[f"+7912{5000000 + i:07d}"]))[0] for i in range(count)]


def outbox_state(rows: QuerySet[Outbox]) -> list[tuple[Any, ...]]:
    """For failure messages: where each row stands."""
    return list(rows.order_by("pk").values_list("pk", "status", "attempts", "last_error"))


def names(count: int) -> list[str]:
    return [f"N{i:03d}" for i in range(count)]
