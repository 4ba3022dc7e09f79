"""The Telegram bot as a message channel, against the emulator over real HTTP: what reaches
Telegram, its refusals as reasons for people, its limits as RateLimited, a bad token as AuthError,
and the token kept out of logs and errors."""

import logging
import time

import pytest
import requests

from connectors.base.emulator import RunningEmulator
from connectors.telegram.adapter import TelegramBot
from connectors.telegram.emulator import TelegramEmulator
from hub.services.connections import connection_check, connection_upsert
from hub.sync.errors import AuthError, RateLimited, RetryableError
from mailings.ports import Button, OutgoingMessage, SendRefused
from tests.connectors.telegram.side import TOKEN, WEBHOOK_SECRET, TelegramSide

USER = "5000000001"  # over 32 bits


def message(text="Привет!", address=USER, buttons=(), key="m-1"):
    return OutgoingMessage(key=key, address=address, text=text, buttons=buttons)


@pytest.fixture
def bot(telegram):
    return TelegramBot(telegram.connection)


def test_check_names_the_bot(telegram, bot):
    assert bot.check() == "Бот @hub_demo_bot"
    assert connection_check(telegram.connection).message == "Telegram: подключение работает. Бот @hub_demo_bot"


def test_send_with_buttons_reaches_telegram_with_the_inline_keyboard(telegram, bot):
    buttons = ((Button("Да", "nps:10"), Button("Нет", "nps:0")), (Button("Позже", "later"),))
    provider_id = bot.send(message("Оцените нас", buttons=buttons))
    held = telegram.state()["messages"]
    assert provider_id == "1" and len(held) == 1
    assert held[0]["chat_id"] == int(USER) and held[0]["text"] == "Оцените нас"
    assert held[0]["reply_markup"] == {"inline_keyboard": [
        [{"text": "Да", "callback_data": "nps:10"}, {"text": "Нет", "callback_data": "nps:0"}],
        [{"text": "Позже", "callback_data": "later"}]]}
    assert telegram.sent()[-1] == {"id": "1", "to": USER, "text": "Оцените нас",
                                   "buttons": ["nps:10", "nps:0", "later"]}
    assert bot.send(message("Без кнопок")) == "2"
    assert telegram.state()["messages"][-1]["reply_markup"] is None


@pytest.mark.parametrize(("blocked_knob", "address", "reason"), [
    (True, USER, "Клиент заблокировал бота в Telegram."),
    (False, "0", "Чат не найден в Telegram"),
])
def test_a_refusal_of_the_chat_is_send_refused_with_a_reason(telegram, bot, blocked_knob, address, reason):
    if blocked_knob:
        telegram.fault(blocked=[int(USER)])
    with pytest.raises(SendRefused) as refused:
        bot.send(message(address=address))
    assert refused.value.reason.startswith(reason)
    assert telegram.state()["messages"] == []


@pytest.mark.parametrize(("outgoing", "reason"), [
    (message(text=" "), "Пустой текст"),
    (message(text="я" * 4097), "Текст длиннее 4096"),
    (message(address="@someone"), "Неверный идентификатор чата"),
    (message(buttons=((Button("A", "д" * 33),),)), "от 1 до 64 байт"),
])
def test_what_telegram_would_refuse_is_refused_unsent(telegram, bot, outgoing, reason):
    with pytest.raises(SendRefused) as refused:
        bot.send(outgoing)
    assert reason in refused.value.reason
    assert not [r for r in telegram.state()["requests"] if r["path"].endswith("/sendMessage")]


def test_429_is_rate_limited_with_telegrams_retry_after(telegram, bot):
    telegram.fault(chat_rate_limit=1, retry_after=30)
    bot.send(message())
    with pytest.raises(RateLimited) as limited:
        bot.send(message(key="m-2"))
    assert limited.value.retry_after == 30 and "retry after 30" in str(limited.value)
    assert len(telegram.state()["messages"]) == 1


def test_a_short_retry_after_is_waited_out_in_place(telegram, bot):
    telegram.fault(chat_rate_limit=1)  # Telegram's own 1 s a chat, its answer says "retry after 1"
    bot.send(message())
    started = time.monotonic()
    assert bot.send(message(key="m-2")) == "2"
    assert time.monotonic() - started >= 0.5


def test_the_hub_keeps_one_message_a_second_per_chat_by_itself(db):
    with RunningEmulator(TelegramEmulator(token=TOKEN, webhook_secret=WEBHOOK_SECRET)) as running:
        requests.post(f"{running.url}/_emulator/faults", json={"retry_after": 60}, timeout=5)  # no waiting in place
        connection, _ = connection_upsert(name="Telegram paced", system="telegram", base_url=running.url,
                                          credentials={"token": TOKEN}, settings={"max_attempts": 3})
        bot = TelegramBot(connection)  # the default limits: 30/s a bot, 1/s a chat
        started = time.monotonic()
        assert [bot.send(message(key=f"m-{n}")) for n in range(2)] == ["1", "2"]
        assert time.monotonic() - started >= 0.9
        assert bot.send(message(address="5000000002", key="m-3")) == "1"  # another chat is not held back


@pytest.mark.parametrize("token", ["7000000001:revoked", "not-a-token"])
def test_a_bad_token_is_an_auth_error(telegram, token):
    telegram.connection.credentials = {**telegram.connection.credentials, "token": token}
    bot = TelegramBot(telegram.connection)
    with pytest.raises(AuthError):
        bot.check()
    with pytest.raises(AuthError):
        bot.send(message())
    result = connection_check(telegram.connection)
    assert not result.ok and "токен" in result.message


def test_the_token_stays_out_of_errors_and_logs(telegram, caplog):
    caplog.set_level(logging.INFO)
    bot = TelegramBot(telegram.connection)
    bot.check()
    telegram.fault(status=502, body="<html>Bad Gateway</html>", path_prefix="/bot")
    with pytest.raises(RetryableError) as failed:
        bot.check()
    telegram.connection.base_url = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(RetryableError) as unreachable:
        TelegramBot(telegram.connection).check()
    secret_part = TOKEN.split(":", 1)[1]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("connectors", "hub"))]  # not the emulator's
    assert len(ours) == 3 and all(secret_part not in line and "/bot***/" in line for line in ours)
    for error in (failed.value, unreachable.value):
        assert secret_part not in str(error) and error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__  # no library error naming the URL


def test_answer_callback_answers_a_press(telegram, bot, live_server):
    telegram.hook_to(live_server)
    bot.send(message(buttons=((Button("Да", "yes"),),)))
    assert telegram.press(USER, "yes") == 200  # the hub's own processing answers it too (see connector)
    query_id = telegram.state()["updates"][-1]["callback_query"]["id"]
    answers = [a["callback_query_id"] for a in telegram.state()["callback_answers"]]
    assert answers == [query_id]
    with pytest.raises(Exception, match="query ID is invalid"):
        bot.answer_callback(query_id, "Спасибо!")


def test_set_webhook_registers_the_hub_with_the_secret(telegram, bot):
    bot.set_webhook("https://hub.example/hooks/telegram/k/")
    webhook = telegram.state()["webhook"]
    assert webhook["url"] == "https://hub.example/hooks/telegram/k/" and webhook["secret_token"] == WEBHOOK_SECRET


def test_the_side_speaks_for_the_client(telegram, bot, live_server):
    assert isinstance(telegram, TelegramSide) and telegram.buttons and not telegram.statuses
    bot.send(message("Как вам?", buttons=((Button("Хорошо", "good"),),)))
    assert telegram.sent() == [{"id": "1", "to": USER, "text": "Как вам?", "buttons": ["good"]}]
    telegram.hook_to(live_server)
    assert telegram.reply(USER, "Спасибо") == 200
    assert telegram.press(USER, "good") == 200
