"""Every external bonus program the tests run against, by system, and a context that starts
one: its emulator on a real port and the hub's program pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from connectors.base.emulator import RunningEmulator
from tests.bonus_side import BonusSide
from tests.connectors.maxma.side import MaxmaSide, maxma_emulator_factory
from tests.connectors.samosale.side import SamosaleSide, samosale_emulator_factory
from tests.connectors.uds.side import UdsSide, uds_emulator_factory

SIDES: dict[str, tuple[type[BonusSide], Any]] = {
    "maxma": (MaxmaSide, maxma_emulator_factory),
    "samosale": (SamosaleSide, samosale_emulator_factory),
    "uds": (UdsSide, uds_emulator_factory),
}


@contextmanager
def bonus_side(system: str) -> Iterator[BonusSide]:
    side_class, factory = SIDES[system]
    with RunningEmulator(factory()) as running:
        yield side_class(running)
