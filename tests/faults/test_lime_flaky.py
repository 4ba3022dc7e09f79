"""Lime pages failing at random: the hub ends with exactly what Lime holds, nothing lost, nothing
twice. The emulator fails a seeded random share of ``*/Select`` pages (500/502/503); the hub
pulls as the scheduler does — try, fail, try again later from the cursors — until a pull goes
through: the backfill, then new activity and edits made meanwhile, then a full re-read that must
still notice a client deleted in Lime."""

from __future__ import annotations

import pytest
import requests

from connectors.lime import mapping
from hub.models import Card, Contact, ContactRelation, ExternalRef, Inbox, Outbox, Pass, Purchase, PurchaseLine
from hub.services.connections import connection_pull
from hub.sync.errors import SyncError
from tests.connectors.conftest import lime, lime_emulator  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

FLAKY = {"rate": 0.3, "seed": 12, "statuses": [500, 502, 503]}


def _knob(emulator, **spec) -> None:
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def _lime(app) -> dict[str, object]:
    """What Lime holds, by id where the hub keeps their ids."""
    with app.lock:
        clients = [c for c in app.clients.values() if not c.get("deleted")]
        return {
            "clients": {str(c["id"]) for c in clients},
            "children": sum(c["category"] == "child" for c in clients),
            "links": sum(len(c["familyLinks"]) for c in clients),
            "checks": {str(i) for i in app.checks},
            "entries": sum(len(c["entries"]) for c in app.checks.values()),
            "passes": {str(i) for i in app.passes},
            "cards": sum(len(c["cards"]) for c in clients),
        }


def _hub(connection) -> dict[str, object]:
    contacts = Contact.objects.filter(merged_into__isnull=True)
    refs = ExternalRef.objects.filter(connection=connection)
    assert contacts.count() == refs.filter(kind="contact").count()  # no contact without its Lime client
    assert Purchase.objects.count() == refs.filter(kind="purchase").count()
    assert Pass.objects.count() == refs.filter(kind="pass").count()
    return {
        "clients": set(refs.filter(kind="contact", local_id__in=contacts.values("pk"), missing_since__isnull=True)
                       .values_list("external_id", flat=True)),
        "children": contacts.filter(category="child").count(),
        "links": ContactRelation.objects.count(),
        "checks": set(refs.filter(kind="purchase").values_list("external_id", flat=True)),
        "entries": PurchaseLine.objects.count(),
        "passes": set(refs.filter(kind="pass").values_list("external_id", flat=True)),
        "cards": Card.objects.count(),
    }


def _sync(connection, *, full: bool = False, tries: int = 120) -> list[str]:
    """Pull (the first try full, if asked) and keep pulling from the cursors, as the scheduler
    does after a failed pull, until one goes through; returns the failures met."""
    failures = []
    for n in range(tries):
        try:
            connection_pull(connection, full=full and n == 0)
            return failures
        except SyncError as exc:
            failures.append(str(exc))
    raise AssertionError(f"no pull went through in {tries} tries: {failures[-3:]}")


def test_random_page_failures_lose_and_duplicate_nothing(lime, lime_emulator, monkeypatch):  # noqa: F811
    monkeypatch.setattr(mapping, "PAGE_SIZE", 7)  # many pages, so failures land mid-feed
    app = lime_emulator.app
    _knob(lime_emulator, flaky_pages=FLAKY)

    failures = _sync(lime, full=True)
    assert len(failures) >= 3 and any("HTTP 50" in f for f in failures)  # the faults did bite
    assert _hub(lime) == _lime(app)

    # Life goes on at the venue while the network stays bad: new clients, receipts, passes, edits.
    edited = next(c for c in app.clients.values() if c["category"] == "adult")
    _knob(lime_emulator, generate={"clients": 6, "checks": 15, "passes": 20})
    _knob(lime_emulator, edit_client={"id": edited["id"], "displayName": "Зайцева Нина"})
    _knob(lime_emulator, status=503, path_prefix="/api/Clients/Select")  # this round surely meets one
    assert _sync(lime)
    assert _hub(lime) == _lime(app)
    ref = ExternalRef.objects.get(connection=lime, kind="contact", external_id=str(edited["id"]))
    assert Contact.objects.get(pk=ref.local_id).first_name == "Нина"
    assert not Inbox.objects.filter(connection=lime).exclude(status=Inbox.Status.PROCESSED).exists()

    # A client deleted in Lime: the full re-read that would notice it meets failures too; carried on
    # by the pulls after it, it still ends by marking the client missing (the contact is kept).
    gone = next(c for c in app.clients.values() if c["category"] == "adult" and c["id"] != edited["id"])
    _knob(lime_emulator, delete_client=gone["id"])
    before = _hub(lime)
    _knob(lime_emulator, status=502, path_prefix="/api/Checks/Select")  # the first full try surely fails
    assert _sync(lime, full=True)
    assert _hub(lime) == {**before, "clients": before["clients"] - {str(gone["id"])}}
    assert _hub(lime)["clients"] == _lime(app)["clients"]
    ref = ExternalRef.objects.get(connection=lime, kind="contact", external_id=str(gone["id"]))
    assert ref.missing_since is not None and Contact.objects.filter(pk=ref.local_id).exists()

    # Once the network is well again, a full re-read finds nothing new and changes nothing.
    _knob(lime_emulator, flaky_pages=None)
    before, contacts_at = _hub(lime), dict(Contact.objects.values_list("pk", "updated_at"))
    report = connection_pull(lime, full=True)
    assert _hub(lime) == before
    assert dict(Contact.objects.values_list("pk", "updated_at")) == contacts_at
    assert [k for k in report.counts if "unchanged" not in k] == []
    assert not Outbox.objects.filter(connection=lime).exists()  # nothing echoed back to Lime
