import pytest

from connectors.amocrm.emulator import AmoCRMEmulator
from connectors.base.emulator import RunningEmulator
from hub.services.connections import connection_upsert


@pytest.fixture
def amo_emulator():
    with RunningEmulator(AmoCRMEmulator()) as running:
        yield running


@pytest.fixture
def amo(amo_emulator, db):
    creds = amo_emulator.app.state()["credentials"]
    connection, _ = connection_upsert(
        name="amoCRM", system="amocrm", base_url=amo_emulator.url,
        credentials={k: creds[k] for k in ("client_id", "client_secret", "redirect_uri", "authorization_code")},
        settings={"subdomain": "demo", "max_attempts": 3,
                  "routes": {"purchase": {"pipeline_id": 3002, "stage_id": 30020},
                             "pass": {"pipeline_id": 3003, "stage_id": 30030},
                             "preorder": {"pipeline_id": 3004, "stage_id": 30040}}},
    )
    return connection
