"""The Telegram emulator on a real port and a hub connection to it."""

from collections.abc import Iterator

import pytest

from connectors.base.emulator import RunningEmulator
from tests.connectors.telegram.side import TelegramSide, telegram_emulator_factory


@pytest.fixture
def telegram_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(telegram_emulator_factory()) as running:
        yield running


@pytest.fixture
def telegram(telegram_emulator: RunningEmulator, db: None) -> TelegramSide:
    return TelegramSide(telegram_emulator)
