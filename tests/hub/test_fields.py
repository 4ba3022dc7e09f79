import pytest
from django.db import connection as db

from hub.models import Connection
from hub.services.connections import connection_upsert

pytestmark = pytest.mark.django_db


def test_credentials_are_not_readable_in_the_database():
    connection_upsert(name="CRM", system="webhook", credentials={"token": "super-secret-token-123"})
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM hub_connection")
        (raw,) = cursor.fetchone()
    assert "super-secret-token-123" not in raw and "token" not in raw
    assert Connection.objects.get().credentials == {"token": "super-secret-token-123"}


def test_credentials_are_merged_key_by_key():
    connection_upsert(name="CRM", system="webhook", credentials={"token": "a", "secret": "s"})
    connection_upsert(name="CRM", credentials={"token": "b"})
    assert Connection.objects.get().credentials == {"token": "b", "secret": "s"}
