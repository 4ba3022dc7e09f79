"""The VK emulator on a real port and a hub connection to it."""

from collections.abc import Iterator

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.vk.side import VkSide, vk_emulator_factory


@pytest.fixture
def vk_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(vk_emulator_factory()) as running:
        yield running


@pytest.fixture
def vk(vk_emulator: RunningEmulator, db: None) -> VkSide:
    return VkSide(vk_emulator)
