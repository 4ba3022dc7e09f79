"""The wizard drives emulators on real ports; the CRM and Lime emulators come from
tests/connectors/conftest.py, the Telegram one is started here."""

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User

from connectors.base.emulator import RunningEmulator
from connectors.lime.emulator import LimeEmulator
from tests.connectors.telegram.side import telegram_emulator_factory


@pytest.fixture
def telegram_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(telegram_emulator_factory()) as running:
        yield running


@pytest.fixture
def lime_emulator() -> Iterator[RunningEmulator]:
    """A small venue: one pull is enough to see every kind arrive."""
    with RunningEmulator(LimeEmulator(clients=8, checks=6, passes=6, password="secret-pw")) as running:
        yield running


@pytest.fixture
def staff_client(client, db):  # type: ignore[no-untyped-def]
    """A staff member with the given hub permissions: ``staff_client("add_connection")``."""

    def make(*codenames: str):  # type: ignore[no-untyped-def]
        user = User.objects.create_user("staff-" + "-".join(codenames), password="x", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="hub", codename__in=codenames))
        client.force_login(user)
        return client

    return make
