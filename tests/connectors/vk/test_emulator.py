"""The VK emulator over real HTTP, against the VK API and Callback API as documented."""

import json

import pytest
import requests

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from connectors.vk.emulator import VkEmulator
from tests.connectors.vk.side import ACCESS_TOKEN, CONFIRMATION, GROUP_ID, SECRET

USER = 1_000_001


def call(emulator, method, token=ACCESS_TOKEN, v="5.199", **params):
    fields = {**params, **({"access_token": token} if token else {}), **({"v": v} if v else {})}
    answer = requests.post(f"{emulator.url}/method/{method}", data=fields, timeout=5)
    assert answer.status_code == 200  # VK answers errors with 200 too
    return answer.json()


def code(body):
    return body["error"]["error_code"]


def button(label, data, **action):
    return {"action": {"type": "text", "label": label, "payload": json.dumps({"data": data}), **action}}


def inline(*rows):
    return json.dumps({"inline": True, "buttons": [list(row) for row in rows]})


def test_token_and_version_are_checked(vk_emulator):
    assert code(call(vk_emulator, "groups.getById", token="")) == 5
    wrong = call(vk_emulator, "groups.getById", token="vk1.a.wrong")["error"]
    assert wrong["error_code"] == 5 and wrong["error_msg"].startswith("User authorization failed")
    assert {"key": "method", "value": "groups.getById"} in wrong["request_params"]
    assert code(call(vk_emulator, "groups.getById", v="")) == 8
    assert code(call(vk_emulator, "messages.nope")) == 3
    group = call(vk_emulator, "groups.getById")["response"]
    assert group["profiles"] == [] and group["groups"][0]["id"] == GROUP_ID and group["groups"][0]["name"]


def test_messages_send_stores_the_message_with_its_keyboard(vk_emulator):
    keyboard = inline([button("Да", "yes"), button("Нет", "no")], [button("Позже", "later", color="primary")])
    sent = call(vk_emulator, "messages.send", peer_id=USER, random_id=123, message="Придёте?", keyboard=keyboard)
    assert sent == {"response": 1}
    [held] = vk_emulator.app.state()["messages"]
    assert held["id"] == 1 and held["peer_id"] == USER and held["random_id"] == 123
    assert held["message"] == "Придёте?" and held["keyboard"] == json.loads(keyboard)


def test_the_same_random_id_is_sent_once(vk_emulator):
    first = call(vk_emulator, "messages.send", peer_id=USER, random_id=-77, message="Раз")
    again = call(vk_emulator, "messages.send", peer_id=USER, random_id=-77, message="Раз")
    other = call(vk_emulator, "messages.send", peer_id=USER, random_id=78, message="Раз")
    assert first == again == {"response": 1} and other == {"response": 2}
    assert len(vk_emulator.app.state()["messages"]) == 2
    requests.post(f"{vk_emulator.url}/_emulator/faults", json={"dedup_window": 0}, timeout=5)
    assert call(vk_emulator, "messages.send", peer_id=USER, random_id=-77, message="Раз") == {"response": 3}


@pytest.mark.parametrize(("params", "error"), [
    ({"peer_id": USER, "message": "x"}, 100),  # no random_id
    ({"peer_id": USER, "random_id": 2**31, "message": "x"}, 100),  # not an int32
    ({"random_id": 1, "message": "x"}, 100),  # no peer
    ({"peer_id": USER, "random_id": 1, "message": ""}, 100),
    ({"peer_id": USER, "random_id": 1, "message": "я" * 9001}, 914),
    ({"peer_id": USER, "random_id": 1, "message": "x", "keyboard": "{"}, 911),
    ({"peer_id": USER, "random_id": 1, "message": "x", "keyboard": inline([button(str(n), "d") for n in range(6)])},
     911),  # 6 in a row
    ({"peer_id": USER, "random_id": 1, "message": "x", "keyboard": inline(*[[button(str(n), "d")] for n in range(7)])},
     911),  # 7 rows
    ({"peer_id": USER, "random_id": 1, "message": "x",
      "keyboard": inline(*[[button(str(n), str(n)), button("b", "b")] for n in range(6)])}, 911),  # 12 buttons
    ({"peer_id": USER, "random_id": 1, "message": "x",
      "keyboard": inline([{"action": {"type": "text", "label": "A", "payload": "not json"}}])}, 911),
    ({"peer_id": USER, "random_id": 1, "message": "x", "keyboard": inline([button("A", "д" * 250)])}, 911),
    ({"peer_id": USER, "random_id": 1, "message": "x", "keyboard": inline([button("", "a")])}, 911),
])
def test_messages_send_refuses_what_vk_refuses(vk_emulator, params, error):
    assert code(call(vk_emulator, "messages.send", **params)) == error
    assert vk_emulator.app.state()["messages"] == []


def test_a_normal_keyboard_may_be_bigger_than_an_inline_one(vk_emulator):
    rows = [[button(f"{r}{c}", f"{r}{c}") for c in range(4)] for r in range(10)]
    keyboard = json.dumps({"one_time": False, "buttons": rows})
    assert call(vk_emulator, "messages.send", peer_id=USER, random_id=1, message="x", keyboard=keyboard)["response"]


def test_a_user_who_did_not_allow_messages_gets_901(vk_emulator):
    requests.post(f"{vk_emulator.url}/_emulator/faults", json={"denied": [USER]}, timeout=5)
    denied = call(vk_emulator, "messages.send", peer_id=USER, random_id=1, message="x")["error"]
    assert denied["error_code"] == 901 and denied["error_msg"] == "Can't send messages for users without permission"
    assert call(vk_emulator, "messages.send", peer_id=USER + 1, random_id=2, message="x")["response"] == 1


def test_more_than_the_limit_a_second_is_error_6():
    with RunningEmulator(VkEmulator(access_token=ACCESS_TOKEN, rate_limit=3)) as emulator:
        answers = [call(emulator, "groups.getById") for _ in range(5)]
        assert [("error" in a) for a in answers] == [False, False, False, True, True]
        assert answers[-1]["error"]["error_msg"] == "Too many requests per second"
    with RunningEmulator(VkEmulator(access_token=ACCESS_TOKEN)) as emulator:  # VK's 20 a second by default
        assert sum("error" in call(emulator, "groups.getById") for _ in range(25)) >= 1


def test_events_are_real_shaped_and_carry_the_secret(vk_emulator, hook_receiver):
    requests.post(f"{vk_emulator.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"}, timeout=5)
    wrote = requests.post(f"{vk_emulator.url}/_emulator/incoming", json={"from": USER, "text": "Привет"},
                          timeout=5).json()
    assert wrote["status"] == 200
    event = hook_receiver.app.received[-1]["body"]
    assert event == wrote["event"]
    assert {k: event[k] for k in ("type", "group_id", "v", "secret")} == {
        "type": "message_new", "group_id": GROUP_ID, "v": "5.199", "secret": SECRET}
    assert len(event["event_id"]) == 40
    message = event["object"]["message"]
    assert message["from_id"] == message["peer_id"] == USER and message["text"] == "Привет" and message["out"] == 0
    assert isinstance(message["id"], int) and "payload" not in message
    assert event["object"]["client_info"]["inline_keyboard"] is True


def test_a_press_sends_the_buttons_label_and_payload(vk_emulator, hook_receiver):
    requests.post(f"{vk_emulator.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"}, timeout=5)
    call(vk_emulator, "messages.send", peer_id=USER, random_id=1, message="Оцените",
         keyboard=inline([{"action": {"type": "text", "label": "Отлично", "payload": '{"data":"nps:10"}'}}]))
    requests.post(f"{vk_emulator.url}/_emulator/press", json={"from": USER, "data": "nps:10"}, timeout=5)
    message = hook_receiver.app.received[-1]["body"]["object"]["message"]
    assert message["text"] == "Отлично" and message["payload"] == '{"data":"nps:10"}'
    requests.post(f"{vk_emulator.url}/_emulator/press", json={"from": USER, "data": "free"}, timeout=5)
    message = hook_receiver.app.received[-1]["body"]["object"]["message"]
    assert message["text"] == "free" and json.loads(message["payload"]) == {"data": "free"}


def test_confirm_posts_the_confirmation_event(vk_emulator, hook_receiver):
    requests.post(f"{vk_emulator.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"}, timeout=5)
    answer = requests.post(f"{vk_emulator.url}/_emulator/confirm", timeout=5).json()
    assert answer["status"] == 200 and answer["confirmed"] is False  # the receiver does not know the string
    event = hook_receiver.app.received[-1]["body"]
    assert event["type"] == "confirmation" and event["group_id"] == GROUP_ID and "object" not in event
    assert vk_emulator.app.state()["credentials"]["confirmation"] == CONFIRMATION


def test_users_need_a_server_and_a_proper_request(vk_emulator):
    no_server = requests.post(f"{vk_emulator.url}/_emulator/incoming", json={"from": USER, "text": "x"}, timeout=5)
    assert no_server.status_code == 409 and no_server.json()["event"]["type"] == "message_new"
    assert requests.post(f"{vk_emulator.url}/_emulator/press", json={"from": USER}, timeout=5).status_code == 400


def test_runs_as_a_program():
    with EmulatorProcess("vk", "--access-token", ACCESS_TOKEN, "--confirmation", "abc", "--group-id", "42") as emulator:
        assert call(emulator, "groups.getById")["response"]["groups"][0]["id"] == 42
        assert emulator.state()["credentials"]["confirmation"] == "abc"
