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


def test_introducing_explicit_keys_keeps_old_data_readable_and_rotation_moves_it(settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    connection_upsert(name="CRM", system="webhook", credentials={"token": "t1"})
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert Connection.objects.get().credentials == {"token": "t1"}  # old data still readable
    call_command("rotate_credentials")
    with db.cursor() as cursor:
        cursor.execute("SELECT credentials FROM hub_connection")
        (raw,) = cursor.fetchone()
    assert Fernet(new_key.encode()).decrypt(raw.encode()) == b'{"token": "t1"}'
