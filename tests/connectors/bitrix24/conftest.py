import pytest

from connectors.base.emulator import RunningEmulator
from connectors.bitrix24.emulator import Bitrix24Emulator
from hub.services.connections import connection_upsert


@pytest.fixture
def b24_emulator():
    with RunningEmulator(Bitrix24Emulator()) as running:
        yield running


@pytest.fixture
def b24(b24_emulator, db):
    creds = b24_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="Битрикс24", system="bitrix24", base_url=b24_emulator.url,
        credentials={"webhook_url": b24_emulator.url + creds["webhook_url"],
                     "application_token": creds["application_token"]},
        settings={"max_attempts": 3,
                  "routes": {"purchase": {"pipeline_id": 1, "stage_id": "C1:NEW"},
                             "pass": {"pipeline_id": 2, "stage_id": "C2:NEW"},
                             "preorder": {"pipeline_id": 3, "stage_id": "C3:NEW"}}},
    )
    return connection
