"""The Telegram emulator over real HTTP, against the Bot API as documented."""

import json

import pytest
import requests

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from connectors.telegram.emulator import TelegramEmulator
from tests.connectors.telegram.side import TOKEN

USER = 5_000_000_001  # ids exceed 32 bits


def call(emulator, method, token=TOKEN, form=False, **params):
    kwargs = {"data": params} if form else {"json": params}
    answer = requests.post(f"{emulator.url}/bot{token}/{method}", timeout=5, **kwargs)
    body = answer.json()
    assert answer.status_code == (200 if body["ok"] else body["error_code"])
    return body


def keyboard(*rows):
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row] for row in rows]}


def test_the_token_is_checked(telegram_emulator):
    me = call(telegram_emulator, "getMe")
    assert me["ok"] and me["result"]["is_bot"] and me["result"]["username"] == "hub_demo_bot"
    assert me["result"]["id"] == 7000000001
    assert call(telegram_emulator, "getMe", token="7000000001:wrong") == {
        "ok": False, "error_code": 401, "description": "Unauthorized"}
    assert call(telegram_emulator, "getMe", token="nonsense")["error_code"] == 404
    assert call(telegram_emulator, "noSuchMethod")["error_code"] == 404
    assert call(telegram_emulator, "GETME")["ok"]  # method names are case-insensitive


def test_send_message_keeps_the_inline_keyboard(telegram_emulator):
    markup = keyboard([("Да", "yes"), ("Нет", "no")], [("Позже", "later")])
    sent = call(telegram_emulator, "sendMessage", chat_id=USER, text="Придёте?", reply_markup=markup)["result"]
    assert sent["message_id"] == 1 and sent["chat"] == {"id": USER, "type": "private"}
    assert sent["text"] == "Придёте?" and sent["reply_markup"] == markup and sent["from"]["is_bot"]
    # form fields, the markup as a JSON string, the chat id as text: the same message
    again = call(telegram_emulator, "sendMessage", form=True, chat_id=str(USER), text="Ещё",
                 reply_markup=json.dumps(markup))["result"]
    assert again["message_id"] == 2 and again["reply_markup"] == markup
    held = telegram_emulator.app.state()["messages"]
    assert [(m["chat_id"], m["text"], m["reply_markup"]) for m in held] == [
        (USER, "Придёте?", markup), (USER, "Ещё", markup)]


@pytest.mark.parametrize(("params", "description"), [
    ({"text": "x"}, "Bad Request: chat_id is empty"),
    ({"chat_id": "@nobody", "text": "x"}, "Bad Request: chat not found"),
    ({"chat_id": USER, "text": ""}, "Bad Request: message text is empty"),
    ({"chat_id": USER, "text": "я" * 4097}, "Bad Request: message is too long"),
    ({"chat_id": USER, "text": "x", "reply_markup": keyboard([("A", "д" * 33)])}, "Bad Request: BUTTON_DATA_INVALID"),
    ({"chat_id": USER, "text": "x", "reply_markup": keyboard([("A", "")])}, "Bad Request: BUTTON_DATA_INVALID"),
    ({"chat_id": USER, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a",
                                                                           "url": "https://e.x"}]]}},
     "exactly one optional field"),
    ({"chat_id": USER, "text": "x", "reply_markup": {"inline_keyboard": [{"text": "A"}]}}, "Array of Arrays"),
])
def test_send_message_refuses_what_telegram_refuses(telegram_emulator, params, description):
    body = call(telegram_emulator, "sendMessage", **params)
    assert body["error_code"] == 400 and description in body["description"]
    assert telegram_emulator.app.state()["messages"] == []


def test_callback_data_is_counted_in_bytes(telegram_emulator):
    assert call(telegram_emulator, "sendMessage", chat_id=USER, text="x",
                reply_markup=keyboard([("A", "д" * 32)]))["ok"]  # 64 bytes


def test_a_user_who_blocked_the_bot_gets_nothing(telegram_emulator):
    requests.post(f"{telegram_emulator.url}/_emulator/faults", json={"blocked": [USER]}, timeout=5)
    assert call(telegram_emulator, "sendMessage", chat_id=USER, text="x") == {
        "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    assert call(telegram_emulator, "sendMessage", chat_id=USER + 1, text="x")["ok"]


def test_limits_per_chat_and_per_bot_answer_429_with_retry_after():
    with RunningEmulator(TelegramEmulator(token=TOKEN)) as emulator:  # the real limits: 1/s a chat, 30/s
        assert call(emulator, "sendMessage", chat_id=USER, text="1")["ok"]
        second = call(emulator, "sendMessage", chat_id=USER, text="2")
        assert second == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                          "parameters": {"retry_after": 1}}
        assert call(emulator, "sendMessage", chat_id=USER + 1, text="other chat")["ok"]
        requests.post(f"{emulator.url}/_emulator/faults", json={"rate_limit": 3, "chat_rate_limit": 100,
                                                                "retry_after": 7}, timeout=5)
        answers = [call(emulator, "sendMessage", chat_id=USER + n, text="x") for n in range(2, 6)]
        assert [a["ok"] for a in answers].count(False) >= 1
        refused = next(a for a in answers if not a["ok"])
        assert refused["parameters"] == {"retry_after": 7} and refused["error_code"] == 429
    with RunningEmulator(TelegramEmulator(token=TOKEN, rate_limit=0)) as emulator:  # 0: both limits off
        assert all(call(emulator, "sendMessage", chat_id=USER, text=str(n))["ok"] for n in range(40))


def test_set_webhook_and_updates_carry_the_secret(telegram_emulator, hook_receiver):
    url = f"{hook_receiver.url}/hook"
    assert call(telegram_emulator, "setWebhook", url=url, secret_token="bad secret!")["error_code"] == 400
    assert call(telegram_emulator, "setWebhook", url=url, secret_token="s3cret_-X")["result"] is True
    assert call(telegram_emulator, "getWebhookInfo")["result"]["url"] == url
    assert telegram_emulator.app.state()["credentials"]["webhook_secret"] == "s3cret_-X"
    first = requests.post(f"{telegram_emulator.url}/_emulator/incoming", json={"from": USER, "text": "Привет"},
                          timeout=5).json()
    second = requests.post(f"{telegram_emulator.url}/_emulator/incoming",
                           json={"from": USER, "contact": {"phone_number": "+79001234567"}}, timeout=5).json()
    assert first["status"] == second["status"] == 200
    received = hook_receiver.app.received
    assert [r["headers"]["X-Telegram-Bot-Api-Secret-Token"] for r in received] == ["s3cret_-X", "s3cret_-X"]
    update = received[0]["body"]
    assert update == first["update"]
    message = update["message"]
    assert message["from"]["id"] == USER and message["chat"] == {"id": USER, "type": "private",
                                                                   "first_name": "Клиент"}
    assert message["text"] == "Привет" and isinstance(message["message_id"], int) and message["date"] > 0
    assert received[1]["body"]["update_id"] == update["update_id"] + 1
    assert received[1]["body"]["message"]["contact"] == {"phone_number": "+79001234567", "first_name": "Клиент",
                                                         "user_id": USER}
    # without a secret_token Telegram sends no secret header
    call(telegram_emulator, "setWebhook", url=url)
    requests.post(f"{telegram_emulator.url}/_emulator/incoming", json={"from": USER, "text": "x"}, timeout=5)
    assert "X-Telegram-Bot-Api-Secret-Token" not in hook_receiver.app.received[-1]["headers"]


def test_a_press_is_a_callback_query_answered_once(telegram_emulator, hook_receiver):
    requests.post(f"{telegram_emulator.url}/_emulator/faults", json={"webhook_url": f"{hook_receiver.url}/hook"},
                  timeout=5)
    markup = keyboard([("Да", "yes")])
    sent = call(telegram_emulator, "sendMessage", chat_id=USER, text="Придёте?", reply_markup=markup)["result"]
    pressed = requests.post(f"{telegram_emulator.url}/_emulator/press", json={"from": USER, "data": "yes"},
                            timeout=5).json()
    query = hook_receiver.app.received[-1]["body"]["callback_query"]
    assert pressed["status"] == 200 and query == pressed["update"]["callback_query"]
    assert query["data"] == "yes" and query["from"]["id"] == USER and query["chat_instance"]
    assert isinstance(query["id"], str) and query["id"].isdigit()
    assert query["message"]["message_id"] == sent["message_id"] and query["message"]["reply_markup"] == markup
    assert call(telegram_emulator, "answerCallbackQuery", callback_query_id=query["id"])["result"] is True
    again = call(telegram_emulator, "answerCallbackQuery", callback_query_id=query["id"])
    assert again["error_code"] == 400 and "query ID is invalid" in again["description"]
    assert telegram_emulator.app.state()["callback_answers"] == [
        {"callback_query_id": query["id"], "from": USER, "text": "", "show_alert": False}]


def test_users_need_a_webhook_and_a_proper_request(telegram_emulator):
    no_hook = requests.post(f"{telegram_emulator.url}/_emulator/incoming", json={"from": USER, "text": "x"}, timeout=5)
    assert no_hook.status_code == 409 and no_hook.json()["update"]["message"]["text"] == "x"
    for action, spec in (("press", {"from": USER}), ("incoming", {"text": "x"}), ("incoming", {"from": USER})):
        assert requests.post(f"{telegram_emulator.url}/_emulator/{action}", json=spec, timeout=5).status_code == 400


def test_runs_as_a_program():
    with EmulatorProcess("telegram", "--token", TOKEN, "--webhook-secret", "s", "--rate-limit", "0") as emulator:
        assert call(emulator, "getMe")["result"]["username"] == "hub_demo_bot"
        assert emulator.state()["credentials"]["webhook_secret"] == "s"
