"""The SMS.ru emulator on a real port and the hub's side of it."""

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.smsru.side import SmsruSide, smsru_emulator_factory


@pytest.fixture
def smsru_emulator():
    with RunningEmulator(smsru_emulator_factory()) as running:
        yield running


@pytest.fixture
def smsru(smsru_emulator, db):
    return SmsruSide(smsru_emulator)
