import pytest
import requests
from django.urls import reverse

from hub.models import Connection, Outbox
from hub.services.contacts import ContactData, contact_upsert
from hub.services.outbox import backoff_delay, outbox_claim, outbox_drain
from tests.helpers import drain_outbox, run_at_once

pytestmark = pytest.mark.django_db


def _fault(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def _receipts(emulator):
    return emulator.app.state()


def test_contact_change_is_queued_for_subscribers_but_not_echoed_to_its_origin(webhook_connection):
    other, _ = Connection.objects.get_or_create(name="Other", system="webhook", base_url="http://127.0.0.1:9")
    contact, _ = contact_upsert(ContactData(phones=["+79123456789"]), connection=other, external_id="x1")
    rows = Outbox.objects.filter(target_kind="contact", target_id=contact.pk)
    assert list(rows.values_list("connection__name", flat=True)) == ["Site"]


def test_pending_row_is_updated_not_duplicated(webhook_connection):
    _contact, _ = contact_upsert(ContactData(first_name="А", phones=["+79123456789"]))
    contact_upsert(ContactData(first_name="Б", phones=["+79123456789"]))
    row = Outbox.objects.get(action="contact.upsert")
    assert row.payload["first_name"] == "Б"


def test_push_failing_twice_then_succeeding_is_delivered_once(webhook_connection, webhook_emulator, settings):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    _contact, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    _fault(webhook_emulator, status=503, times=2, path_prefix="/events")
    reports = [outbox_drain() for _ in range(3)]
    assert [(r.sent, r.retried) for r in reports] == [(0, 1), (0, 1), (1, 0)]
    row = Outbox.objects.get()
    assert (row.status, row.attempts) == (Outbox.Status.SENT, 3)
    state = _receipts(webhook_emulator)
    assert state["deliveries"] == 1
    assert state["contacts"][0]["phone"] == "+79123456789"
    assert row.external_id == state["contacts"][0]["id"]
    assert outbox_drain().total == 0  # nothing left to send


def test_push_that_keeps_failing_goes_dead_and_replays_from_admin(webhook_connection, webhook_emulator, settings,
                                                                 admin_client):
    settings.HUB_OUTBOX_BACKOFF_BASE = 0
    contact_upsert(ContactData(phones=["+79123456789"]))
    _fault(webhook_emulator, status=500, times=3, path_prefix="/events")
    for _ in range(4):
        outbox_drain()
    row = Outbox.objects.get()
    assert (row.status, row.attempts) == (Outbox.Status.DEAD, 3)
    assert "500" in row.last_error
    assert _receipts(webhook_emulator)["deliveries"] == 0

    response = admin_client.post(reverse("admin:hub_outbox_changelist"),
                                 {"action": "replay", "_selected_action": [row.pk]}, follow=True)
    assert response.status_code == 200
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Outbox.Status.PENDING, 0)
    assert outbox_drain().sent == 1
    assert _receipts(webhook_emulator)["deliveries"] == 1


def test_rejected_event_is_dead_at_once(webhook_connection, webhook_emulator):
    # The emulator accepts the batch but refuses this one event (unknown type): not retried.
    Outbox.objects.create(connection=webhook_connection, action="unknown.event", payload={})
    assert outbox_drain().dead == 1
    assert "unknown type" in Outbox.objects.get().last_error


def test_retry_after_from_the_provider_sets_the_next_attempt(webhook_connection, webhook_emulator):
    contact_upsert(ContactData(phones=["+79123456789"]))
    _fault(webhook_emulator, status=429, times=1, retry_after=120, path_prefix="/events")
    report = outbox_drain()
    row = Outbox.objects.get()
    assert report.retried == 1 and row.status == Outbox.Status.FAILED
    delay = (row.next_attempt_at - row.created_at).total_seconds()
    assert 110 < delay < 200
    assert outbox_drain().total == 0  # not due yet


def test_backoff_is_exponential_capped_and_jittered(settings):
    settings.HUB_OUTBOX_BACKOFF_BASE, settings.HUB_OUTBOX_BACKOFF_CAP = 5, 60
    assert 2.5 <= backoff_delay(1) <= 5
    assert 10 <= backoff_delay(3) <= 20
    assert 30 <= backoff_delay(10) <= 60
    assert len({backoff_delay(4) for _ in range(20)}) > 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_take_the_same_row(webhook_connection):
    for i in range(60):
        Outbox.objects.create(connection=webhook_connection, action="contact.merged", payload={"n": i})
    claimed: list[list[int]] = [[], []]

    def worker(slot: int) -> None:
        while rows := outbox_claim(7):
            claimed[slot].extend(r.pk for r in rows)

    assert run_at_once(2, worker) == []
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(Outbox.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_send_every_row_exactly_once(webhook_connection, webhook_emulator, settings):
    settings.HUB_OUTBOX_BATCH = 5
    for i in range(40):
        Outbox.objects.create(connection=webhook_connection, action="contact.merged", payload={"n": i})
    assert run_at_once(2, lambda _: drain_outbox()) == []
    state = _receipts(webhook_emulator)
    assert state["deliveries"] == 40
    assert len(state["events"]) == 40
    assert Outbox.objects.filter(status=Outbox.Status.SENT).count() == 40


def test_an_older_failed_change_never_overwrites_a_newer_one(webhook_connection):
    _contact, _ = contact_upsert(ContactData(first_name="V1", phones=["+79123456789"]))
    Outbox.objects.update(status=Outbox.Status.FAILED)
    contact_upsert(ContactData(first_name="V2", phones=["+79123456789"]))
    rows = {r.payload["first_name"]: r.status for r in Outbox.objects.all()}
    assert rows == {"V1": Outbox.Status.SKIPPED, "V2": Outbox.Status.PENDING}


def test_events_are_never_coalesced(webhook_connection):
    from hub.services.outbox import outbox_publish

    outbox_publish("contact.merged", "contact", 1, {"duplicate": 2})
    outbox_publish("contact.merged", "contact", 1, {"duplicate": 3})
    assert sorted(r.payload["duplicate"] for r in Outbox.objects.all()) == [2, 3]


def test_absurd_retry_after_is_clamped_not_a_crash(webhook_connection, webhook_emulator):
    contact_upsert(ContactData(phones=["+79123456789"]))
    _fault(webhook_emulator, status=503, times=1, retry_after=10**12, path_prefix="/events")
    assert outbox_drain().retried == 1
    row = Outbox.objects.get()
    assert 86000 < (row.next_attempt_at - row.created_at).total_seconds() <= 86400 + 60


def test_a_result_after_the_lease_was_lost_is_not_recorded(webhook_connection, webhook_emulator, monkeypatch):
    from connectors.webhook.connector import WebhookConnector

    contact_upsert(ContactData(phones=["+79123456789"]))
    original = WebhookConnector.push_batch

    def slow_push(self, connection, rows):
        Outbox.objects.update(claim_token="another-worker")  # our lease expired and was re-claimed
        return original(self, connection, rows)

    monkeypatch.setattr(WebhookConnector, "push_batch", slow_push)
    assert outbox_drain().sent == 0
    assert Outbox.objects.get().status == Outbox.Status.SENDING
    assert not webhook_connection.refs.exists()


def test_a_change_waits_while_the_previous_one_of_its_target_is_being_sent(webhook_connection):
    """Another worker holds V1 (e.g. creating the record remotely); V2 must not be sent in
    parallel, or both would create it. Once V1 is done (or its lease lapses), V2 goes."""
    contact, _ = contact_upsert(ContactData(first_name="V1", phones=["+79123456789"]))
    [first] = outbox_claim(10)
    contact_upsert(ContactData(first_name="V2", phones=["+79123456789"]))
    other, _ = contact_upsert(ContactData(first_name="Другой", phones=["+79123456780"]))
    assert [r.target_id for r in outbox_claim(10)] == [other.pk]  # not V2
    Outbox.objects.filter(pk=first.pk).update(status=Outbox.Status.SENT)
    [second] = outbox_claim(10)
    assert second.payload["first_name"] == "V2" and second.target_id == contact.pk


def test_a_change_undone_while_the_first_is_being_sent_still_goes(webhook_connection):
    """They hold A; B is being sent; the record goes back to A: A must follow B, or B stays."""
    from hub.services.external_refs import external_ref_link, fingerprint
    from hub.services.outbox import outbox_publish

    external_ref_link(webhook_connection, "thing", 1, "t1", digest=fingerprint({"v": "A"}))
    outbox_publish("contact.upsert", "thing", 1, {"v": "B"})
    [sending] = outbox_claim(10)
    outbox_publish("contact.upsert", "thing", 1, {"v": "A"})
    assert Outbox.objects.filter(status=Outbox.Status.PENDING).get().payload == {"v": "A"}
    assert sending.payload == {"v": "B"}


def test_a_drain_of_only_some_rows_sends_those_and_leaves_the_rest(webhook_connection, webhook_emulator):
    first, _ = contact_upsert(ContactData(first_name="A", phones=["+79990000001"]))
    second, _ = contact_upsert(ContactData(first_name="B", phones=["+79990000002"]))
    rows = {row.target_id: row for row in Outbox.objects.filter(action="contact.upsert")}
    report = outbox_drain(only=[rows[first.pk].pk])
    assert report.sent == 1
    assert Outbox.objects.get(pk=rows[first.pk].pk).status == Outbox.Status.SENT
    assert Outbox.objects.get(pk=rows[second.pk].pk).status == Outbox.Status.PENDING
