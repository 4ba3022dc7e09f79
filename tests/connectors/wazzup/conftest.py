"""The Wazzup emulator on a real port, a hub connection to it, and a receiver for its hooks."""

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.greenapi.conftest import HookReceiver
from tests.connectors.wazzup.side import WazzupSide, wazzup_emulator_factory


@pytest.fixture
def wazzup_emulator():
    with RunningEmulator(wazzup_emulator_factory()) as running:
        yield running


@pytest.fixture
def wazzup(wazzup_emulator, db):
    return WazzupSide(wazzup_emulator)


@pytest.fixture
def hook_receiver():
    with RunningEmulator(HookReceiver()) as running:
        yield running
