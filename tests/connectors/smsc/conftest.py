"""The SMSC emulator on a real port, the hub's side of it, and a tiny receiver of its
callbacks (to read exactly what the emulator posts, in which charset)."""

import pytest
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, RunningEmulator
from tests.connectors.smsc.side import SmscSide, smsc_emulator_factory


class CallbackReceiver(Emulator):
    """Records every POST /hook (raw body, content type, query) and answers ``OK``."""

    name = "callback-receiver"

    def routes(self) -> list[Rule]:
        return [Rule("/hook", endpoint="hook", methods=["POST"])]

    def reset(self) -> None:
        self.received: list[dict] = []

    def hook(self, request: Request) -> Response:
        with self.lock:
            self.received.append({"raw": request.get_data(), "content_type": request.mimetype,
                                  "query": dict(request.args)})
        return Response("OK", mimetype="text/plain")


@pytest.fixture
def smsc_emulator():
    with RunningEmulator(smsc_emulator_factory()) as running:
        yield running


@pytest.fixture
def smsc(smsc_emulator, db):
    return SmscSide(smsc_emulator)


@pytest.fixture
def receiver():
    with RunningEmulator(CallbackReceiver()) as running:
        yield running
