"""Events about one record wait for each other without giving up."""

import pytest

from hub.models import Inbox
from hub.services import inbox as inbox_service
from hub.services.inbox import inbox_retry_failed

pytestmark = pytest.mark.django_db


def test_an_event_whose_record_is_busy_waits_for_the_sweep_without_using_an_attempt(webhook_connection, settings):
    row = Inbox.objects.create(connection=webhook_connection, source="webhook:1", event_key="e1",
                               attempts=settings.HUB_INBOX_MAX_ATTEMPTS - 1)
    for _ in range(3):  # the record stayed busy three times over
        inbox_service._busy(row.pk)
    row.refresh_from_db()
    assert row.status == Inbox.Status.FAILED and row.attempts == settings.HUB_INBOX_MAX_ATTEMPTS - 1
    assert inbox_retry_failed() == 1  # still taken again
