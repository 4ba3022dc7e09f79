import pytest
import requests
from django.test import TestCase

from hub.models import Contact, Inbox, Outbox, SyncCursor
from hub.services.connections import connection_check, connection_pull
from hub.services.contacts import ContactData, contact_upsert
from hub.services.outbox import outbox_drain

pytestmark = pytest.mark.django_db(transaction=True)


def _emit(emulator, **data):
    answer = requests.post(f"{emulator.url}/_emulator/emit", json={"data": data}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_check_connection_tells_good_from_bad_credentials(webhook_connection):
    assert connection_check(webhook_connection).ok
    webhook_connection.credentials = {"token": "wrong"}
    result = connection_check(webhook_connection)
    assert not result.ok and "invalid token" in result.message


def test_pull_follows_the_cursor_and_a_second_pull_changes_nothing(webhook_connection, webhook_emulator):
    app = webhook_emulator.app
    with app.lock:
        for i in range(450):
            app._store_contact(f"c{i}", {"first_name": f"Имя{i}", "phone": f"+7912{i:07d}"})
    seen = []
    report = connection_pull(webhook_connection, progress=lambda entity, done, total: seen.append(done))
    assert report.counts == {"contacts": 450} and seen == [200, 400, 450]
    assert Contact.objects.count() == 450
    assert SyncCursor.objects.get(entity="contacts").value == "450"
    assert connection_pull(webhook_connection).counts == {}
    webhook_connection.refresh_from_db()
    assert webhook_connection.last_pull_at is not None
    # Pulled contacts are not pushed back to the system they came from.
    assert Outbox.objects.filter(connection=webhook_connection).count() == 0


def test_webhook_from_the_system_creates_a_contact_end_to_end(webhook_connection, webhook_emulator, live_server):
    url = f"{live_server.url}{webhook_connection.webhook_path}"
    answer = requests.post(f"{webhook_emulator.url}/_emulator/emit", timeout=10, json={
        "webhook_url": url, "data": {"first_name": "Олег", "phone": "8 912 000-11-22"}})
    assert answer.json()["hub_status"] == 200
    assert Inbox.objects.get().status == Inbox.Status.PROCESSED
    assert Contact.objects.get().phone == "+79120001122"


def test_our_push_echoed_back_is_dropped(webhook_connection, webhook_emulator, live_server):
    with TestCase.captureOnCommitCallbacks(execute=True):
        _contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    assert outbox_drain().sent == 1
    their = webhook_emulator.app.state()["contacts"][0]
    before = Contact.objects.get().updated_at
    # The system reports back exactly what we wrote: no update, nothing queued.
    requests.post(f"{webhook_emulator.url}/_emulator/emit", timeout=10, json={
        "webhook_url": f"{live_server.url}{webhook_connection.webhook_path}",
        "data": {k: their[k] for k in ("id", "first_name", "phone")}})
    assert Inbox.objects.get().status == Inbox.Status.PROCESSED
    assert Contact.objects.get().updated_at == before
    assert Outbox.objects.count() == 1
    # A real change from them is applied, and not sent back to them.
    requests.post(f"{webhook_emulator.url}/_emulator/emit", timeout=10, json={
        "webhook_url": f"{live_server.url}{webhook_connection.webhook_path}",
        "data": {"id": their["id"], "first_name": "Анна", "last_name": "Петрова", "phone": "+79123456789"}})
    assert Contact.objects.get().last_name == "Петрова"
    assert Outbox.objects.count() == 1


def test_a_bad_pulled_record_is_kept_rejected_and_the_pull_goes_on(webhook_connection, webhook_emulator):
    app = webhook_emulator.app
    with app.lock:
        app._store_contact("c1", {"first_name": "Ок", "phone": "+79120000001"})
        app._store_contact("c2", {"first_name": "Плохой", "phone": "12"})
        app._store_contact("c3", {"first_name": "Ок2", "phone": "+79120000003"})
    report = connection_pull(webhook_connection)
    assert report.counts == {"contacts": 2, "contacts rejected": 1}
    rejected = Inbox.objects.get(status=Inbox.Status.REJECTED)
    assert rejected.payload["data"]["phone"] == "12" and "номер" in rejected.error
    assert SyncCursor.objects.get(entity="contacts").value == "3"
    assert connection_pull(webhook_connection).counts == {}  # idempotent: nothing re-read
