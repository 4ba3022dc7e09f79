"""The SMS.ru emulator over real HTTP, against SMS.ru's published samples (sms.ru/api/send,
/api/status, the callback's ``data[]`` entries)."""

import hashlib
import re

import pytest
import requests

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from connectors.smsru.emulator import SmsruEmulator

API_ID = "EMU-API-ID"


@pytest.fixture
def emulator():
    with RunningEmulator(SmsruEmulator(api_id=API_ID, rate_limit=0, balance=100, price=3.5)) as running:
        yield running


def call(emulator, path, **params):
    answer = requests.post(f"{emulator.url}{path}", data={"api_id": API_ID, "json": 1, **params}, timeout=5)
    assert answer.status_code == 200  # SMS.ru answers refusals with 200 too
    return answer.json()


def knob(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def test_send_answers_in_the_documented_shape(emulator):
    knob(emulator, forbidden=["74993221627"])
    reply = call(emulator, "/sms/send", to="79255070602,74993221627", msg="hello world")
    assert (reply["status"], reply["status_code"]) == ("OK", 100)
    ok, refused = reply["sms"]["79255070602"], reply["sms"]["74993221627"]
    assert (ok["status"], ok["status_code"]) == ("OK", 100) and re.fullmatch(r"\d{6}-\d{8}", ok["sms_id"])
    assert (refused["status"], refused["status_code"]) == ("ERROR", 207) and refused["status_text"]
    assert reply["balance"] == 96.5
    [message] = requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()["messages"]
    assert (message["id"], message["phone"], message["text"], message["status"]) == (
        ok["sms_id"], "79255070602", "hello world", "sent")


def test_send_by_get_with_different_texts_and_the_text_answer(emulator):
    answer = requests.get(f"{emulator.url}/sms/send", timeout=5, params={
        "api_id": API_ID, "to[79255070602]": "Привет 1", "to[79255070603]": "Привет 2"})
    lines = answer.text.split("\n")
    assert lines[0] == "100" and len(lines) == 4 and lines[3] == "balance=93.0"
    held = requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()["messages"]
    texts = {m["phone"]: m["text"] for m in held}
    assert texts == {"79255070602": "Привет 1", "79255070603": "Привет 2"}


def test_refusals(emulator):
    assert call(emulator, "/sms/send", api_id="wrong", to="79255070602", msg="x")["status_code"] == 200
    assert call(emulator, "/sms/send", to="79255070602", msg="")["status_code"] == 203
    assert call(emulator, "/sms/send", to="79255070602", msg="x", **{"from": "Аквапарк"})["status_code"] == 204
    assert call(emulator, "/sms/send", to="+7 925", msg="x")["sms"]["+7 925"]["status_code"] == 202
    knob(emulator, stoplist=["+79255070602"], invalid=["79255070603"])
    assert call(emulator, "/sms/send", to="79255070602", msg="x")["sms"]["79255070602"]["status_code"] == 209
    assert call(emulator, "/sms/send", to="79255070603", msg="x")["sms"]["79255070603"]["status_code"] == 202
    assert call(emulator, "/sms/send", to="79255070604", msg="я" * 600)["sms"]["79255070604"]["status_code"] == 205
    knob(emulator, balance=1)
    low = call(emulator, "/sms/send", to="79255070604", msg="x")
    assert (low["status"], low["sms"]["79255070604"]["status_code"]) == ("OK", 201)
    assert requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()["messages"] == []


def test_balance_and_status(emulator):
    assert call(emulator, "/my/balance") == {"status": "OK", "status_code": 100, "balance": 100.0}
    assert call(emulator, "/my/balance", api_id="wrong")["status"] == "ERROR"
    sms_id = call(emulator, "/sms/send", to="79255070602", msg="x")["sms"]["79255070602"]["sms_id"]
    status = call(emulator, "/sms/status", sms_id=f"{sms_id},000000-000001")["sms"]
    assert status[sms_id]["status_code"] == 102 and status["000000-000001"]["status_code"] == -1


def test_deliver_posts_the_documented_callback(emulator, hook_receiver):
    hook_receiver.app.reply = ("100", "text/plain")  # what the real handler answers
    sms_id = call(emulator, "/sms/send", to="79255070602", msg="x")["sms"]["79255070602"]["sms_id"]
    assert requests.post(f"{emulator.url}/_emulator/deliver", json={"id": sms_id, "status": "delivered"},
                         timeout=5).status_code == 409  # nowhere to post yet
    knob(emulator, webhook_url=f"{hook_receiver.url}/hook")
    answer = requests.post(f"{emulator.url}/_emulator/deliver", json={"id": sms_id, "status": "delivered"}, timeout=5)
    assert answer.json() == {"status": 200, "body": "100"}
    failed = requests.post(f"{emulator.url}/_emulator/deliver", json={"id": sms_id, "status": "failed"}, timeout=5)
    assert failed.json()["status"] == 200
    first, second = hook_receiver.app.received
    assert first["content_type"] == "application/x-www-form-urlencoded"
    form = dict(first["form"])
    kind, got_id, code, when = form["data[0]"].split("\n")
    assert (kind, got_id, code) == ("sms_status", sms_id, "103") and when.isdigit()
    assert form["hash"] == hashlib.sha256((API_ID + form["data[0]"]).encode()).hexdigest()
    assert dict(second["form"])["data[0]"].split("\n")[2] == "104"
    state = requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()
    assert state["messages"][0]["status"] == "failed" and state["credentials"]["api_id"] == API_ID
    assert requests.post(f"{emulator.url}/_emulator/deliver", json={"id": "nope", "status": "delivered"},
                         timeout=5).status_code == 404


def test_faults_and_rate_limit_apply_to_the_api_not_to_the_knobs(emulator):
    knob(emulator, status=503, times=1, path_prefix="/sms/send")
    assert requests.post(f"{emulator.url}/sms/send", data={"api_id": API_ID}, timeout=5).status_code == 503
    knob(emulator, rate_limit=1)
    codes = [requests.post(f"{emulator.url}/my/balance", data={"api_id": API_ID, "json": 1}, timeout=5).status_code
             for _ in range(3)]
    assert codes[0] == 200 and 429 in codes
    assert requests.get(f"{emulator.url}/_emulator/state", timeout=5).status_code == 200


def test_runs_as_its_own_process():
    with EmulatorProcess("smsru", "--api-id", "CLI-KEY", "--balance", "12.5") as process:
        assert process.state()["credentials"]["api_id"] == "CLI-KEY"
        answer = requests.post(f"{process.url}/my/balance", data={"api_id": "CLI-KEY", "json": 1}, timeout=5)
        assert answer.json()["balance"] == 12.5
