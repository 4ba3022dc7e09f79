"""The Green-API emulator on a real port and a hub connection to it."""

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.greenapi.side import GreenapiSide, greenapi_emulator_factory


@pytest.fixture
def greenapi_emulator():
    with RunningEmulator(greenapi_emulator_factory()) as running:
        yield running


@pytest.fixture
def greenapi(greenapi_emulator, db):
    return GreenapiSide(greenapi_emulator)
