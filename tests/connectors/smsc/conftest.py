"""The SMSC emulator on a real port and the hub's side of it."""

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.smsc.side import SmscSide, smsc_emulator_factory


@pytest.fixture
def smsc_emulator():
    with RunningEmulator(smsc_emulator_factory()) as running:
        yield running


@pytest.fixture
def smsc(smsc_emulator, db):
    return SmscSide(smsc_emulator)
