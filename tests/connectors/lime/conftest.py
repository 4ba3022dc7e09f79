import pytest

from connectors.base.emulator import RunningEmulator
from connectors.lime.emulator import LimeEmulator
from hub.services.connections import connection_upsert


@pytest.fixture
def lime_emulator():
    with RunningEmulator(LimeEmulator(clients=40, password="secret-pw")) as running:
        yield running


@pytest.fixture
def lime(lime_emulator, db):
    creds = lime_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="Лайм", system="lime", base_url=lime_emulator.url,
        credentials={"username": creds["username"], "password": creds["password"]},
        settings={"installation_id": 1, "cashdesk_id": 1, "rate_limit": "1000/second", "max_attempts": 3},
    )
    return connection
