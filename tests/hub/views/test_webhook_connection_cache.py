"""Each worker reuses its copy of a webhook's connection for a moment (one query less per
event), but never at the cost of refusing a rotated secret or serving a connection switched
off in this process. A change made by another process is imitated with ``update()``, which
sends no signal, as another process's save would not reach this one."""

import json
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from connectors.base import webhooks
from connectors.base.webhooks import hmac_sha256
from hub.models import Connection, Inbox

pytestmark = pytest.mark.django_db


def _post(client, connection, event_id, secret="emu-secret"):
    body = json.dumps({"id": event_id, "type": "contact.merged", "data": {}}).encode()
    return client.post(connection.webhook_path, data=body, content_type="application/json",
                       headers={"X-Hub-Signature": hmac_sha256(secret, body)})


def test_the_second_event_is_stored_without_reading_the_connection_again(client, webhook_connection):
    assert _post(client, webhook_connection, "e1").status_code == 200
    with CaptureQueriesContext(db) as queries:
        assert _post(client, webhook_connection, "e2").status_code == 200
    assert not [q for q in queries if "hub_connection" in q["sql"]]
    assert Inbox.objects.filter(connection=webhook_connection).count() == 2


def test_a_connection_switched_off_here_is_refused_at_once(client, webhook_connection):
    assert _post(client, webhook_connection, "e1").status_code == 200
    webhook_connection.enabled = False
    webhook_connection.save()
    assert _post(client, webhook_connection, "e2").status_code == 404


def test_a_secret_rotated_elsewhere_is_accepted_at_once_and_the_old_one_refused(client, webhook_connection):
    assert _post(client, webhook_connection, "e1").status_code == 200
    Connection.objects.filter(pk=webhook_connection.pk).update(credentials={"token": "emu-token", "secret": "new"})
    assert _post(client, webhook_connection, "e2", secret="new").status_code == 200
    assert _post(client, webhook_connection, "e3", secret="emu-secret").status_code == 403
    assert set(Inbox.objects.exclude(status="rejected").values_list("event_key", flat=True)) == {"e1", "e2"}
    assert Inbox.objects.filter(status="rejected").count() == 1


def test_a_connection_switched_off_elsewhere_is_refused_once_the_copy_expires(client, webhook_connection):
    now = 1000.0
    with mock.patch.object(webhooks, "time", SimpleNamespace(monotonic=lambda: now)):
        assert _post(client, webhook_connection, "e1").status_code == 200
        Connection.objects.filter(pk=webhook_connection.pk).update(enabled=False)
        now += webhooks.CONNECTION_TTL - 0.1
        assert _post(client, webhook_connection, "e2").status_code == 200  # the copy, still fresh
        now += 0.2
        assert _post(client, webhook_connection, "e3").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_connection_deleted_elsewhere_is_unknown_not_a_server_error(client, webhook_connection):
    assert _post(client, webhook_connection, "e1").status_code == 200
    Inbox.objects.update(connection=None)
    Connection.objects.filter(pk=webhook_connection.pk)._raw_delete(db.alias)  # no signal reaches this process

    assert _post(client, webhook_connection, "e2").status_code == 404
    assert not Inbox.objects.filter(event_key="e2").exists()


@pytest.mark.django_db(transaction=True)
def test_a_refusal_for_a_connection_deleted_elsewhere_is_unknown_not_a_server_error(client, webhook_connection):
    assert _post(client, webhook_connection, "e1").status_code == 200
    Inbox.objects.update(connection=None)
    Connection.objects.filter(pk=webhook_connection.pk)._raw_delete(db.alias)

    assert _post(client, webhook_connection, "e2", secret="wrong").status_code == 404
