"""Emulator-backed connections shared by the connector tests."""

import pytest

from connectors.amocrm.emulator import AmoCRMEmulator
from connectors.base.emulator import RunningEmulator
from connectors.bitrix24.emulator import Bitrix24Emulator
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

