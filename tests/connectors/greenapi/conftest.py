"""The Green-API emulator on a real port, a hub connection to it, and a receiver for its hooks."""

import pytest
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, RunningEmulator, json_response
from tests.connectors.greenapi.side import GreenapiSide, greenapi_emulator_factory


class HookReceiver(Emulator):
    """Records every POST /hook (JSON body and Authorization) and answers 200."""

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
def greenapi_emulator():
    with RunningEmulator(greenapi_emulator_factory()) as running:
        yield running


@pytest.fixture
def greenapi(greenapi_emulator, db):
    return GreenapiSide(greenapi_emulator)


@pytest.fixture
def hook_receiver():
    with RunningEmulator(HookReceiver()) as running:
        yield running
