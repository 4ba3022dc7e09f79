"""The Wazzup emulator on a real port and a hub connection to it."""

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.wazzup.side import WazzupSide, wazzup_emulator_factory


@pytest.fixture
def wazzup_emulator():
    with RunningEmulator(wazzup_emulator_factory()) as running:
        yield running


@pytest.fixture
def wazzup(wazzup_emulator, db):
    return WazzupSide(wazzup_emulator)
