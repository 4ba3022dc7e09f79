"""The UDS emulator on a real port, with fixed credentials."""

from collections.abc import Iterator

import pytest

from connectors.base.emulator import RunningEmulator
from connectors.uds.emulator import UdsEmulator


@pytest.fixture
def uds_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(UdsEmulator(company_id="549755813888", api_key="emu-key")) as running:
        yield running
