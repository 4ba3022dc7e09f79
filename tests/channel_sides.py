"""Every messaging provider the tests run against, by system, and a context that starts one:
its emulator on a real port and a hub connection to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connectors.base.emulator import RunningEmulator
from tests.channel_side import ChannelSide
from tests.connectors.greenapi.side import GreenapiSide, greenapi_emulator_factory
from tests.connectors.smsc.side import SmscSide, smsc_emulator_factory
from tests.connectors.smsru.side import SmsruSide, smsru_emulator_factory
from tests.connectors.telegram.side import TelegramSide, telegram_emulator_factory
from tests.connectors.vk.side import VkSide, vk_emulator_factory
from tests.connectors.wazzup.side import WazzupSide, wazzup_emulator_factory

SIDES: dict[str, tuple[type[ChannelSide], Any]] = {
    "greenapi": (GreenapiSide, greenapi_emulator_factory),
    "smsc": (SmscSide, smsc_emulator_factory),
    "smsru": (SmsruSide, smsru_emulator_factory),
    "telegram": (TelegramSide, telegram_emulator_factory),
    "vk": (VkSide, vk_emulator_factory),
    "wazzup": (WazzupSide, wazzup_emulator_factory),
}


@contextmanager
def channel_side(system: str) -> Iterator[ChannelSide]:
    side_class, factory = SIDES[system]
    with RunningEmulator(factory()) as running:
        yield side_class(running)
