"""The SMS.ru emulator on a real port, the hub's side of it, and a tiny receiver of its
callbacks (to read exactly what the emulator posts)."""

import pytest
from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, RunningEmulator
from tests.connectors.smsru.side import SmsruSide, smsru_emulator_factory


class CallbackReceiver(Emulator):
    """Records every POST /hook (raw body, form, content type) and answers ``100`` as SMS.ru wants."""

    name = "callback-receiver"

    def routes(self) -> list[Rule]:
        return [Rule("/hook", endpoint="hook", methods=["POST"])]

    def reset(self) -> None:
        self.received: list[dict] = []

    def hook(self, request: Request) -> Response:
        raw = request.get_data()
        with self.lock:
            self.received.append({"raw": raw, "content_type": request.mimetype,
                                  "form": list(request.form.items(multi=True))})
        return Response("100", mimetype="text/plain")


@pytest.fixture
def smsru_emulator():
    with RunningEmulator(smsru_emulator_factory()) as running:
        yield running


@pytest.fixture
def smsru(smsru_emulator, db):
    return SmsruSide(smsru_emulator)


@pytest.fixture
def receiver():
    with RunningEmulator(CallbackReceiver()) as running:
        yield running
