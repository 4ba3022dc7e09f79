"""The VK community bot as a message channel, against the emulator over real HTTP: what reaches
VK, a retried send delivered once, VK's refusals as reasons for people, its limits as
RateLimited, a bad token as AuthError."""

import json

import pytest

from connectors.vk.adapter import VkBot
from connectors.vk.mapping import random_id
from hub.services.connections import connection_check
from hub.sync.errors import AuthError, RateLimited, RetryableError
from mailings.ports import Button, OutgoingMessage, SendRefused

USER = "1000001"


def message(text="Привет!", address=USER, buttons=(), key="m-1"):
    return OutgoingMessage(key=key, address=address, text=text, buttons=buttons)


def vk_error(code, text="error"):
    """A VK refusal as the fault knob serves it: HTTP 200 with an error body, once."""
    return {"status": 200, "path_prefix": "/method/", "body": {"error": {"error_code": code, "error_msg": text}}}


@pytest.fixture
def bot(vk):
    return VkBot(vk.connection)


def test_check_names_the_community(vk, bot):
    assert bot.check() == "Сообщество «Аквапарк (эмулятор)» (id 229000001)"
    assert connection_check(vk.connection).ok


def test_send_with_buttons_reaches_vk_with_an_inline_keyboard(vk, bot):
    buttons = (tuple(Button(str(n), f"nps:{n}") for n in range(5)), (Button("Позже", "later"),))
    provider_id = bot.send(message("Оцените нас от 0 до 4", buttons=buttons))
    [held] = vk.state()["messages"]
    assert provider_id == str(held["id"]) and held["peer_id"] == int(USER)
    assert held["random_id"] == random_id("m-1") and held["message"] == "Оцените нас от 0 до 4"
    keyboard = held["keyboard"]
    assert keyboard["inline"] is True and [len(row) for row in keyboard["buttons"]] == [4, 1, 1]  # split at 4
    first = keyboard["buttons"][0][0]["action"]
    assert first["type"] == "text" and first["label"] == "0" and json.loads(first["payload"]) == {"data": "nps:0"}
    assert vk.sent() == [{"id": provider_id, "to": USER, "text": "Оцените нас от 0 до 4",
                          "buttons": ["nps:0", "nps:1", "nps:2", "nps:3", "nps:4", "later"]}]


def test_the_same_message_sent_twice_is_one_message_at_vk(vk, bot):
    first = bot.send(message(key="campaign-7:contact-3"))
    again = bot.send(message(key="campaign-7:contact-3"))  # the answer was lost, the outbox retries
    other = bot.send(message(key="campaign-7:contact-4"))
    assert first == again != other
    assert len(vk.state()["messages"]) == 2


def test_random_id_is_a_stable_signed_int32():
    values = {random_id(f"key-{n}") for n in range(2000)}
    assert len(values) == 2000 and all(-(2**31) <= v < 2**31 and v for v in values)
    assert random_id("key-1") == random_id("key-1") and min(values) < 0 < max(values)


@pytest.mark.parametrize(("code", "reason"), [
    (901, "Клиент не разрешил сообществу присылать сообщения в VK."),
    (902, "Клиент запретил сообщения настройками приватности VK."),
    (900, "Клиент добавил сообщество в чёрный список VK."),
    (7, "у токена сообщества нет права"),
    (15, "нет доступа к диалогу"),
    (100, "неверный получатель"),
    (936, "VK отклонил сообщение (код 936): Contact not found"),
])
def test_a_refusal_of_the_user_is_send_refused_with_a_reason(vk, bot, code, reason):
    if code == 901:
        vk.fault(denied=[int(USER)])  # the emulator's own: the user did not allow messages
    else:
        vk.fault(**vk_error(code, "Contact not found"))
    with pytest.raises(SendRefused) as refused:
        bot.send(message())
    assert reason in refused.value.reason
    assert vk.state()["messages"] == []


@pytest.mark.parametrize(("outgoing", "reason"), [
    (message(text=" "), "Пустой текст"),
    (message(text="я" * 9001), "Текст длиннее 9000"),
    (message(address="id1"), "Неверный идентификатор получателя"),
    (message(buttons=tuple((Button(str(n), str(n)),) for n in range(7))), "не больше 10 кнопок в 6 рядах"),
    (message(buttons=((Button("A", "д" * 250),),)), "слишком длинные"),
])
def test_what_vk_would_refuse_is_refused_unsent(vk, bot, outgoing, reason):
    with pytest.raises(SendRefused) as refused:
        bot.send(outgoing)
    assert reason in refused.value.reason
    assert not [r for r in vk.state()["requests"] if r["path"] == "/method/messages.send"]


def test_too_many_requests_is_rate_limited(vk, bot):
    vk.fault(rate_limit=1)  # the emulator's own limit: error 6 beyond it
    bot.send(message())
    with pytest.raises(RateLimited) as limited:
        bot.send(message(key="m-2"))
    assert limited.value.retry_after == 1.0 and "Too many requests per second" in str(limited.value)
    vk.fault(rate_limit=0, **vk_error(9, "Flood control"))
    with pytest.raises(RateLimited) as flood:
        bot.send(message(key="m-3"))
    assert flood.value.retry_after == 60.0


def test_vks_own_trouble_is_retried(vk, bot):
    vk.fault(**vk_error(10, "Internal server error"))
    with pytest.raises(RetryableError) as failed:
        bot.send(message())
    assert not isinstance(failed.value, RateLimited | AuthError)
    vk.fault(status=502, path_prefix="/method/", body="<html>Bad Gateway</html>")
    with pytest.raises(RetryableError):
        bot.send(message())
    assert bot.send(message()) == "1"


def test_a_bad_token_is_an_auth_error(vk):
    vk.connection.credentials = {**vk.connection.credentials, "access_token": "vk1.a.revoked"}
    bot = VkBot(vk.connection)
    with pytest.raises(AuthError):
        bot.check()
    with pytest.raises(AuthError):
        bot.send(message())
    result = connection_check(vk.connection)
    assert not result.ok and "access_token" in result.message
