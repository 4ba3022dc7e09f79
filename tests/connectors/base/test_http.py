import logging

import pytest
import requests

from connectors.base import metrics
from connectors.base.emulator import RunningEmulator
from connectors.base.http import HttpClient, parse_retry_after
from connectors.webhook.emulator import WebhookSystemEmulator
from hub.sync.errors import AuthError, FatalError, RateLimited, RetryableError


@pytest.fixture
def emulator():
    with RunningEmulator(WebhookSystemEmulator(token="t", secret="s")) as running:
        yield running


def _fault(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


class Client(HttpClient):
    system = "test"

    def auth_headers(self):
        return {"Authorization": "Bearer t"}


def test_short_retry_after_is_waited_out_in_place(emulator):
    _fault(emulator, status=429, times=1, retry_after=0.2, path_prefix="/ping")
    assert Client(emulator.url).request("GET", "/ping").json() == {"ok": True}
    pings = [r for r in emulator.app.state()["requests"] if r["path"] == "/ping"]
    assert len(pings) == 2 and pings[1]["time"] - pings[0]["time"] >= 0.2


def test_long_retry_after_is_handed_to_the_caller(emulator):
    _fault(emulator, status=429, times=1, retry_after=90, path_prefix="/ping")
    with pytest.raises(RateLimited) as error:
        Client(emulator.url).request("GET", "/ping")
    assert error.value.retry_after == 90 and error.value.retryable


@pytest.mark.parametrize(("status", "error"), [(400, FatalError), (404, FatalError), (401, AuthError),
                                               (500, RetryableError), (503, RetryableError)])
def test_statuses_map_to_typed_errors(emulator, status, error):
    _fault(emulator, status=status, times=1, path_prefix="/ping", body={"error": "nope"})
    with pytest.raises(error) as raised:
        Client(emulator.url).request("GET", "/ping")
    assert "nope" in str(raised.value)


def test_unreachable_host_is_retryable():
    with pytest.raises(RetryableError, match="cannot connect"):
        Client("http://127.0.0.1:1").request("GET", "/ping")


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("12") == 12.0 and parse_retry_after("soon") is None


def test_metrics_hook_sees_every_call_and_logs_mask_pii(emulator, caplog):
    seen = []
    metrics.add_hook(seen.append)
    try:
        with caplog.at_level(logging.INFO, logger="connectors.base.http"):
            Client(emulator.url).request("GET", "/ping", params={"phone": "+79123456789"})
            Client(emulator.url).request("GET", "/contacts/+79123456789", expected=(404,))
    finally:
        metrics.remove_hook(seen.append)
    assert [(m.path, m.status) for m in seen] == [("/ping", 200), ("/contacts/+79123456789", 404)]
    assert "+79123456789" not in caplog.text and "+7912*****89" in caplog.text


def test_a_blank_or_malformed_address_is_a_fatal_error_not_a_crash():
    with pytest.raises(FatalError, match="bad address"):
        Client("").request("GET", "/ping")


def test_non_json_answer_is_a_retryable_error(emulator):
    _fault(emulator, status=200, times=1, path_prefix="/ping", body="<html>maintenance</html>")
    with pytest.raises(RetryableError, match="non-JSON"):
        Client(emulator.url).request_json("GET", "/ping")


def test_bad_fault_spec_is_refused_and_the_emulator_keeps_working(emulator):
    answer = requests.post(f"{emulator.url}/_emulator/faults", json={"status": "oops"}, timeout=5)
    assert answer.status_code == 400
    assert Client(emulator.url).request("GET", "/ping").status_code == 200
