"""The MAXMA emulator on a real port."""

import pytest

from connectors.base.emulator import RunningEmulator
from connectors.maxma.emulator import MaxmaEmulator


@pytest.fixture
def maxma_emulator():
    with RunningEmulator(MaxmaEmulator(processing_key="emu-key")) as running:
        yield running
