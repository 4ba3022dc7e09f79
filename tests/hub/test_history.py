"""The audit trail keeps real changes only, and background work is recorded as its person."""

import pytest

from hub.history import history_deduplicate
from hub.models import Connection
from hub.services.contacts import ContactData, contact_upsert

pytestmark = pytest.mark.django_db


def test_versions_that_changed_nothing_tracked_are_dropped_and_real_changes_kept():
    anna, _ = contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    for _ in range(3):  # a sync re-saving the same values
        contact_upsert(ContactData(first_name="Анна", phones=["+79123456789"]))
    contact_upsert(ContactData(first_name="Анна", last_name="Иванова", phones=["+79123456789"]))
    crm = Connection.objects.create(name="CRM", system="amocrm", credentials={"token": "a"})
    for token in ("b", "c"):  # token refreshes: secrets are not in the history
        crm.credentials = {"token": token}
        crm.save(update_fields=["credentials", "updated_at"])
    history_deduplicate()
    versions = [(h.phone, h.last_name) for h in anna.history.order_by("history_date")]
    assert versions[-2:] == [("+79123456789", ""), ("+79123456789", "Иванова")]
    assert len(versions) == len(set(versions))  # the three re-saves are gone
    assert crm.history.count() == 1
