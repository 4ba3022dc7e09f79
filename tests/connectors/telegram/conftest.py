"""The Telegram emulator on a real port, a hub connection to it, and a receiver for its updates."""

from collections.abc import Iterator

import pytest
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, RunningEmulator, json_response
from tests.connectors.telegram.side import TelegramSide, telegram_emulator_factory


class HookReceiver(Emulator):
    """Records every POST /hook: its JSON body and headers."""

    name = "hook-receiver"

    def routes(self) -> list[Rule]:
        return [Rule("/hook", endpoint="hook", methods=["POST"])]

    def reset(self) -> None:
        self.received: list[dict] = []

    def hook(self, request: Request) -> Response:
        with self.lock:
            self.received.append({"body": request.get_json(force=True, silent=True), "headers": dict(request.headers)})
        return json_response({"ok": True})


@pytest.fixture
def telegram_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(telegram_emulator_factory()) as running:
        yield running


@pytest.fixture
def telegram(telegram_emulator: RunningEmulator, db: None) -> TelegramSide:
    return TelegramSide(telegram_emulator)


@pytest.fixture
def hook_receiver() -> Iterator[RunningEmulator]:
    with RunningEmulator(HookReceiver()) as running:
        yield running
