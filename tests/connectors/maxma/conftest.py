"""The MAXMA emulator on a real port, and a tiny receiver for its webhooks."""

import pytest
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, RunningEmulator, json_response
from connectors.maxma.emulator import MaxmaEmulator


class HookReceiver(Emulator):
    """Records every POST /hook (body and Authorization); base faults make it answer 5xx/4xx."""

    name = "hook-receiver"

    def routes(self) -> list[Rule]:
        return [Rule("/hook", endpoint="hook", methods=["POST"])]

    def reset(self) -> None:
        self.received: list[dict] = []

    def hook(self, request: Request) -> Response:
        with self.lock:
            self.received.append({"body": request.get_json(force=True, silent=True),
                                  "authorization": request.headers.get("Authorization", "")})
        return json_response({"ok": True})


@pytest.fixture
def maxma_emulator():
    with RunningEmulator(MaxmaEmulator(processing_key="emu-key")) as running:
        yield running


@pytest.fixture
def hook_receiver():
    with RunningEmulator(HookReceiver()) as running:
        yield running
