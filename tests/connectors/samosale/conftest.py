"""The SamoSale emulator on a real port, with the keys the tests sign and authorise with."""

from collections.abc import Iterator

import pytest

from connectors.base.emulator import RunningEmulator
from connectors.samosale.emulator import SamosaleEmulator


@pytest.fixture
def samosale_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(SamosaleEmulator(api_key="emu-key", webhook_secret="emu-secret")) as running:
        yield running
