"""The Green-API emulator over real HTTP, against the documented requests and notifications
(green-api.com/en/docs/api/: SendMessage, GetStateInstance, GetSettings, ratelimiter, 466 body,
OutgoingMessageStatus, incoming TextMessage)."""

import time

import pytest
import requests

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from connectors.greenapi.emulator import GreenApiEmulator

INSTANCE, TOKEN = "1101000001", "emu-token"
DOC_SEND = {"chatId": "79001234567@c.us", "message": "I use Green-API to send this message to you!"}


def url(emulator, method, token=TOKEN, instance=INSTANCE, prefix=""):
    return f"{emulator.url}{prefix}/waInstance{instance}/{method}/{token}"


def send(emulator, body=None, **kwargs):
    return requests.post(url(emulator, "sendMessage", **kwargs), json=body or DOC_SEND, timeout=5)


def knob(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def test_send_message_as_documented(greenapi_emulator):
    answer = send(greenapi_emulator)
    assert answer.status_code == 200
    message_id = answer.json()["idMessage"]
    assert isinstance(message_id, str) and message_id
    again = send(greenapi_emulator, prefix="/v3")  # "the v3 prefix became optional"
    assert again.status_code == 200 and again.json()["idMessage"] != message_id
    messages = greenapi_emulator.app.state()["messages"]
    first = messages[0]
    assert (first["id"], first["chatId"], first["text"]) == (message_id, DOC_SEND["chatId"], DOC_SEND["message"])


@pytest.mark.parametrize(("instance", "token"), [(INSTANCE, "wrong"), ("1101000002", TOKEN)])
def test_a_wrong_instance_or_token_is_401(greenapi_emulator, instance, token):
    assert send(greenapi_emulator, instance=instance, token=token).status_code == 401
    assert requests.get(url(greenapi_emulator, "getStateInstance", token=token, instance=instance),
                        timeout=5).status_code == 401
    assert greenapi_emulator.app.state()["messages"] == []


@pytest.mark.parametrize("body", [
    {"chatId": "79001234567", "message": "no @c.us"},
    {"chatId": "7900123@c.us", "message": "too short"},
    {"chatId": "79001234567@c.us", "message": ""},
    {"chatId": "79001234567@c.us"},
    {"chatId": "79001234567@c.us", "message": "x" * 20_001},
])
def test_validation_errors_are_400(greenapi_emulator, body):
    answer = send(greenapi_emulator, body)
    assert answer.status_code == 400 and answer.json()["description"]


def test_state_and_settings(greenapi_emulator):
    state = requests.get(url(greenapi_emulator, "getStateInstance"), timeout=5).json()
    assert state == {"stateInstance": "authorized"}
    knob(greenapi_emulator, state_instance="notAuthorized", settings={"outgoingWebhook": "no"})
    state = requests.get(url(greenapi_emulator, "getStateInstance"), timeout=5).json()
    assert state["stateInstance"] == "notAuthorized"
    settings = requests.get(url(greenapi_emulator, "getSettings"), timeout=5).json()
    assert settings["outgoingWebhook"] == "no" and settings["wid"].endswith("@c.us")
    assert settings["webhookUrlToken"] == "emu-hook-token"
    refused = requests.post(f"{greenapi_emulator.url}/_emulator/faults", json={"state_instance": "bogus"}, timeout=5)
    assert refused.status_code == 500
    assert greenapi_emulator.app.state()["state_instance"] == "notAuthorized"


def test_developer_plan_chat_limit_is_466(greenapi_emulator):
    knob(greenapi_emulator, correspondents_limit=1)
    assert send(greenapi_emulator).status_code == 200
    assert send(greenapi_emulator).status_code == 200  # the same chat again is fine
    other = send(greenapi_emulator, {"chatId": "79007654321@c.us", "message": "hi"})
    assert other.status_code == 466
    assert other.json()["correspondentsStatus"]["status"] == "QUOTE_EXCEEDED"


def test_rate_limits_per_method():
    with RunningEmulator(GreenApiEmulator(id_instance=INSTANCE, api_token=TOKEN)) as emulator:
        assert emulator.app.rate_limit == 50
        codes = [requests.get(url(emulator, "getStateInstance"), timeout=5).status_code for _ in range(2)]
        assert codes == [200, 429]  # 1 request per second
        assert requests.get(url(emulator, "getSettings"), timeout=5).status_code == 200  # its own limit
        time.sleep(1.05)
        assert requests.get(url(emulator, "getStateInstance"), timeout=5).status_code == 200
        codes = [send(emulator).status_code for _ in range(60)]
        assert codes.count(429) >= 5 and codes[:45].count(200) == 45


def test_faults_apply_to_the_api_not_to_the_knobs(greenapi_emulator):
    knob(greenapi_emulator, status=503, times=1)
    assert send(greenapi_emulator).status_code == 503
    assert send(greenapi_emulator).status_code == 200
    knob(greenapi_emulator, status=429, times=1, retry_after=7)
    assert requests.get(f"{greenapi_emulator.url}/_emulator/state", timeout=5).status_code == 200
    limited = send(greenapi_emulator)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7.0"


def test_deliver_posts_the_documented_status_notification(greenapi_emulator, hook_receiver):
    knob(greenapi_emulator, webhook_url=f"{hook_receiver.url}/hook", no_whatsapp=["+79005550000"])
    first = send(greenapi_emulator).json()["idMessage"]
    nowa = send(greenapi_emulator, {"chatId": "79005550000@c.us", "message": "hi"}).json()["idMessage"]
    for message_id, status in ((first, "delivered"), (first, "read"), (nowa, "delivered"), (first, "failed")):
        answer = requests.post(f"{greenapi_emulator.url}/_emulator/deliver", json={"id": message_id, "status": status},
                               timeout=5).json()
        assert answer["status"] == 200 and '"ok": true' in answer["body"]
    got = hook_receiver.app.received
    assert all(hook["authorization"] == "Bearer emu-hook-token" for hook in got)
    bodies = [hook["body"] for hook in got]
    assert [(b["idMessage"], b["status"]) for b in bodies] == [
        (first, "delivered"), (first, "read"), (nowa, "noAccount"), (first, "failed")]
    body = bodies[0]
    assert body["typeWebhook"] == "outgoingMessageStatus" and body["chatId"] == "79001234567@c.us"
    assert body["instanceData"] == {"idInstance": 1101000001, "wid": "79990000001@c.us", "typeInstance": "whatsapp"}
    assert isinstance(body["timestamp"], int) and body["sendByApi"] is True
    assert bodies[3]["description"]
    statuses = {m["id"]: m["status"] for m in greenapi_emulator.app.state()["messages"]}
    assert statuses == {first: "failed", nowa: "noAccount"}
    missing = requests.post(f"{greenapi_emulator.url}/_emulator/deliver", json={"id": "nope"}, timeout=5)
    assert missing.status_code == 404


def test_incoming_posts_the_documented_text_message(greenapi_emulator, hook_receiver):
    assert requests.post(f"{greenapi_emulator.url}/_emulator/incoming", json={"from": "+79001234568", "text": "Да"},
                         timeout=5).status_code == 409  # no webhook_url yet
    knob(greenapi_emulator, webhook_url=f"{hook_receiver.url}/hook", webhook_token="")
    answer = requests.post(f"{greenapi_emulator.url}/_emulator/incoming",
                           json={"from": "+79001234568", "text": "Да"}, timeout=5).json()
    assert answer["status"] == 200 and answer["id"]
    hook = hook_receiver.app.received[0]
    assert hook["authorization"] == ""  # no token set: no header
    body = hook["body"]
    assert body["typeWebhook"] == "incomingMessageReceived" and body["idMessage"] == answer["id"]
    assert body["senderData"]["chatId"] == body["senderData"]["sender"] == "79001234568@c.us"
    assert body["messageData"] == {"typeMessage": "textMessage", "textMessageData": {"textMessage": "Да"}}


def test_runs_as_a_module():
    with EmulatorProcess("greenapi", "--id-instance", INSTANCE, "--api-token", TOKEN) as emulator:
        assert send(emulator).status_code == 200
        assert emulator.state()["credentials"]["id_instance"] == INSTANCE
