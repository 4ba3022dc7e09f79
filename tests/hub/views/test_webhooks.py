import json

import pytest
from django.test import TestCase

from connectors.base.webhooks import hmac_sha256
from hub.models import Contact, Inbox

pytestmark = pytest.mark.django_db


def _post(client, connection, body: bytes, secret: str = "emu-secret", **headers):
    """Post as the system would; run what the view schedules on commit (the processing task)."""
    signature = hmac_sha256(secret, body)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(connection.webhook_path, data=body, content_type="application/json",
                           headers={"X-Hub-Signature": signature, **headers})


def _event(event_id="evt-1", phone="8 (912) 345-67-89"):
    return json.dumps({"id": event_id, "type": "contact.upsert",
                       "data": {"id": "c9", "first_name": "Анна", "phone": phone}}).encode()


def test_same_event_twice_is_one_row_answered_200_and_processed_once(client, webhook_connection):
    first = _post(client, webhook_connection, _event())
    second = _post(client, webhook_connection, _event())
    assert first.status_code == second.status_code == 200
    row = Inbox.objects.get()
    assert (row.status, row.attempts, row.event_key) == (Inbox.Status.PROCESSED, 1, "evt-1")
    assert Contact.objects.get().phone == "+79123456789"


def test_bad_signature_is_403_and_kept_as_rejected(client, webhook_connection):
    response = _post(client, webhook_connection, _event(), secret="wrong")
    assert response.status_code == 403
    assert response.json()["error"] == "Bad or missing signature."
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.REJECTED and "evt-1" in row.raw_body
    assert Contact.objects.count() == 0


def test_unparseable_body_is_400_with_reason_and_raw_kept(client, webhook_connection):
    response = _post(client, webhook_connection, b"{not json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    assert Inbox.objects.get().raw_body == "{not json"
    missing = _post(client, webhook_connection, b'{"type": "contact.upsert"}')
    assert missing.status_code == 400 and "id" in missing.json()["error"]


def test_invalid_phone_in_a_valid_event_is_rejected_with_a_clear_error(client, webhook_connection):
    response = _post(client, webhook_connection, _event(phone="12345"))
    assert response.status_code == 200  # stored first, judged in processing
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.REJECTED
    assert "Некорректный номер телефона" in row.error
    assert row.payload["data"]["phone"] == "12345"
    assert Contact.objects.count() == 0


def test_unknown_connection_key_is_404(client, webhook_connection):
    response = client.post("/hooks/webhook/nope/", data=b"{}", content_type="application/json")
    assert response.status_code == 404
    assert Inbox.objects.count() == 0


def test_failed_processing_is_kept_and_replayed(client, webhook_connection, monkeypatch, admin_client):
    from connectors.webhook import connector as module

    def boom(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(module, "contact_upsert", boom)  # a rare failure, forced
    _post(client, webhook_connection, _event())
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.FAILED and "database hiccup" in row.error
    monkeypatch.undo()
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post("/admin/hub/inbox/", {"action": "replay", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.status == Inbox.Status.PROCESSED
    assert Contact.objects.count() == 1


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"id": "e", "type": "contact.upsert", "data": {"x": NaN}}', "NaN is not allowed"),
    (b'{"id": "e", "type": "contact.upsert", "data": {"x": "a\\u0000b"}}', "NUL"),
    (b'{"id": "e\x00", "type": "t"}', "NUL"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b'["a list"]', "JSON object"),
    (b'{"id": "e", "type": "t", "data": "text"}', "'data' must be an object"),
])
def test_hostile_bodies_get_a_400_with_a_reason_and_are_kept(client, webhook_connection, body, reason):
    response = _post(client, webhook_connection, body)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    row = Inbox.objects.get()
    assert row.status == Inbox.Status.REJECTED and "\x00" not in row.raw_body
    assert row.raw_body


def test_a_very_long_event_key_is_hashed_not_truncated(client, webhook_connection):
    for suffix in "ab":
        body = json.dumps({"id": "x" * 300 + suffix, "type": "other", "data": {}}).encode()
        assert _post(client, webhook_connection, body).status_code == 200
    assert Inbox.objects.count() == 2


def test_an_event_whose_task_never_ran_is_picked_up_by_the_sweep(webhook_connection):
    import datetime as dt

    from django.utils import timezone

    from hub.services.inbox import inbox_receive, inbox_retry_failed

    row, _ = inbox_receive(source="webhook:x", event_key="lost", kind="contact.upsert", connection=webhook_connection,
                           payload={"data": {"first_name": "Ира", "phone": "+79120000009"}}, process=False)
    assert inbox_retry_failed() == 0  # fresh: its task may still be coming
    Inbox.objects.filter(pk=row.pk).update(received_at=timezone.now() - dt.timedelta(minutes=10))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert inbox_retry_failed() == 1
    assert Inbox.objects.get(pk=row.pk).status == Inbox.Status.PROCESSED
