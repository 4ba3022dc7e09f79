"""The SMSC emulator over real HTTP, against SMSC's published answers (send.php with fmt=3,
error codes 1–9, balance, status) and its callbacks (charset as the handler URL says)."""

import json
from urllib.parse import parse_qsl

import pytest
import requests

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from connectors.smsc.emulator import SmscEmulator

LOGIN, PSW = "hub", "secret"


@pytest.fixture
def emulator():
    with RunningEmulator(SmscEmulator(login=LOGIN, password=PSW, rate_limit=0, balance=100, price=2.5)) as running:
        yield running


def send(emulator, **params):
    fields = {"login": LOGIN, "psw": PSW, "fmt": 3, "charset": "utf-8", **params}
    answer = requests.post(f"{emulator.url}/sys/send.php", data=fields, timeout=5)
    assert answer.status_code == 200  # SMSC answers errors with 200 too
    return answer.json()


def state(emulator):
    return requests.get(f"{emulator.url}/_emulator/state", timeout=5).json()


def knob(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def test_send_answers_id_and_cnt_and_keeps_the_clients_id(emulator):
    assert send(emulator, phones="79161234567", mes="Привет") == {"id": 1, "cnt": 1}
    assert send(emulator, phones="+79161234568;79161234569", mes="Hello", id="order.1-a") == {"id": "order.1-a",
                                                                                              "cnt": 2}
    messages = state(emulator)["messages"]
    assert [(m["id"], m["phone"], m["text"]) for m in messages] == [
        (1, "79161234567", "Привет"), ("order.1-a", "79161234568", "Hello"), ("order.1-a", "79161234569", "Hello")]
    assert state(emulator)["balance"] == "92.5"


def test_the_default_charset_is_windows_1251(emulator):
    raw = "login=hub&psw=secret&fmt=3&phones=79161234567&mes=" + "".join(f"%{b:02X}" for b in "Привет".encode("cp1251"))
    answer = requests.post(f"{emulator.url}/sys/send.php", data=raw, timeout=5,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.json()["cnt"] == 1 and state(emulator)["messages"][0]["text"] == "Привет"


def test_text_formats(emulator):
    base = {"login": LOGIN, "psw": PSW, "phones": "79161234567", "charset": "utf-8"}
    assert requests.get(f"{emulator.url}/sys/send.php", params={**base, "mes": "a"}, timeout=5).text == \
        "OK - 1 SMS, ID - 1"
    assert requests.get(f"{emulator.url}/sys/send.php", params={**base, "mes": "b", "fmt": 1}, timeout=5).text == "2,1"
    wrong = requests.get(f"{emulator.url}/sys/send.php", params={**base, "psw": "x", "mes": "c"}, timeout=5)
    assert wrong.text == "ERROR = 2 (authorise error)"


def test_error_codes(emulator):
    assert send(emulator, psw="wrong", phones="79161234567", mes="x")["error_code"] == 2
    assert send(emulator, phones="79161234567")["error_code"] == 1
    assert send(emulator, phones="79161234567", mes="x", id="не латиница")["error_code"] == 1
    assert send(emulator, phones="123", mes="x", id="7") == {"error": "invalid phone", "error_code": 7, "id": 7}
    knob(emulator, invalid=["+79160000007"], forbidden=["79160000008"], forbidden_words=["казино"])
    assert send(emulator, phones="79160000007", mes="x")["error_code"] == 7
    assert send(emulator, phones="79160000008", mes="x")["error_code"] == 8
    assert send(emulator, phones="79161234567", mes="Лучшее КАЗИНО")["error_code"] == 6
    assert send(emulator, phones="79161234567", mes="x", sender="Чужое")["error_code"] == 6
    assert "error" not in send(emulator, phones="79161234567", mes="x", sender="SMSC.RU")
    assert send(emulator, phones="79161234567", mes="x", sender="SMSC.RU")["error_code"] == 9  # within a minute
    knob(emulator, balance=1)
    assert send(emulator, phones="79161234567", mes="y")["error_code"] == 3
    assert len(state(emulator)["messages"]) == 1


def test_balance_and_status(emulator):
    fields = {"login": LOGIN, "psw": PSW, "fmt": 3}
    assert requests.post(f"{emulator.url}/sys/balance.php", data=fields, timeout=5).json() == {"balance": "100.00"}
    assert requests.post(f"{emulator.url}/sys/balance.php", data={**fields, "psw": "x"}, timeout=5).json()[
        "error_code"] == 2
    send(emulator, phones="79161234567", mes="x", id="m1")
    status = requests.post(f"{emulator.url}/sys/status.php", data={**fields, "phone": "79161234567", "id": "m1"},
                           timeout=5).json()
    assert status["status"] == 0 and status["err"] == 0
    unknown = requests.post(f"{emulator.url}/sys/status.php", data={**fields, "phone": "79161234567", "id": "zz"},
                            timeout=5).json()
    assert unknown["status"] == -3


def test_callbacks_in_the_handlers_charset(emulator, hook_receiver):
    hook_receiver.app.reply = ("OK", "text/plain")  # what the real handler answers
    send(emulator, phones="79161234567", mes="x", id="m1")
    knob(emulator, webhook_url=f"{hook_receiver.url}/hook")  # no charset named: windows-1251
    answer = requests.post(f"{emulator.url}/_emulator/deliver", json={"id": "m1", "status": "failed", "err": 6},
                           timeout=5)
    assert answer.json() == {"status": 200, "body": "OK"}
    assert requests.post(f"{emulator.url}/_emulator/incoming", json={"from": "+79161234567", "text": "Стоп"},
                         timeout=5).json()["status"] == 200
    knob(emulator, webhook_url=f"{hook_receiver.url}/hook?charset=utf-8")
    requests.post(f"{emulator.url}/_emulator/incoming", json={"from": "+79161234567", "text": "Да"}, timeout=5)
    knob(emulator, webhook_url=f"{hook_receiver.url}/hook?fmt=3")
    requests.post(f"{emulator.url}/_emulator/deliver", json={"id": "m1", "status": "delivered"}, timeout=5)
    status, incoming, utf8, as_json = hook_receiver.app.received
    fields = dict(parse_qsl(status["raw"].decode()))
    assert {k: fields[k] for k in ("id", "phone", "status", "err")} == {"id": "m1", "phone": "79161234567",
                                                                        "status": "20", "err": "6"}
    assert fields["time"].isdigit() and fields["ts"].isdigit()
    cp1251 = dict(parse_qsl(incoming["raw"].decode(), encoding="cp1251"))
    assert (cp1251["mes"], cp1251["phone"], cp1251["to"], cp1251["sms_id"]) == ("Стоп", "79161234567",
                                                                                 "79990000000", "1")
    assert dict(parse_qsl(utf8["raw"].decode()))["mes"] == "Да"
    assert as_json["content_type"] == "application/json" and json.loads(as_json["raw"])["status"] == 1
    assert state(emulator)["messages"][0]["status"] == "delivered"
    assert [m["mes"] for m in state(emulator)["incoming"]] == ["Стоп", "Да"]


def test_faults_and_rate_limit_apply_to_the_api_not_to_the_knobs(emulator):
    knob(emulator, status=503, times=1, path_prefix="/sys/send.php")
    assert requests.post(f"{emulator.url}/sys/send.php", data={}, timeout=5).status_code == 503
    knob(emulator, rate_limit=1)
    codes = [requests.post(f"{emulator.url}/sys/balance.php", data={"login": LOGIN, "psw": PSW}, timeout=5).status_code
             for _ in range(3)]
    assert codes[0] == 200 and 429 in codes
    assert state(emulator)["credentials"] == {"login": LOGIN, "password": PSW, "webhook_url": ""}


def test_runs_as_its_own_process():
    with EmulatorProcess("smsc", "--login", "cli", "--password", "pw", "--balance", "7") as process:
        assert process.state()["credentials"]["login"] == "cli"
        answer = requests.post(f"{process.url}/sys/balance.php", data={"login": "cli", "psw": "pw", "fmt": 3},
                               timeout=5)
        assert answer.json() == {"balance": "7.00"}
