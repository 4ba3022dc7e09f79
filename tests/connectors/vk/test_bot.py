"""The VK bot end to end: the VK emulator posts Callback API events to the hub over HTTP; the
phone is confirmed with a code that travels through the SMS.ru emulator."""

from __future__ import annotations

import re

from bots.models import BotChat
from hub.models import Contact, ContactIdentity
from tests.channel_sides import channel_side
from tests.helpers import drain_outbox

USER = "31000777"


def test_a_vk_client_registers_with_an_sms_code(vk, live_server, consent_texts):
    vk.hook_to(live_server)
    with channel_side("smsru") as sms:
        assert vk.reply(USER, "Начать") == 200
        drain_outbox()
        agree, _ = vk.sent()[-1]["buttons"]
        vk.press(USER, agree)
        drain_outbox()
        vk.press(USER, "mk:no")
        drain_outbox()
        assert "Напишите ваш номер" in vk.sent()[-1]["text"]
        vk.reply(USER, "+7 (916) 555-44-33")
        drain_outbox()
        texts = sms.sent()
        assert [m["to"] for m in texts] == ["+79165554433"]
        code = re.search(r"\d{6}", texts[0]["text"]).group(0)
        assert "отправили код" in vk.sent()[-1]["text"]
        vk.reply(USER, code)
        drain_outbox()
    contact = Contact.objects.get()
    assert contact.phone == "+79165554433"
    assert ContactIdentity.objects.filter(contact=contact, kind="vk", value=USER).exists()
    assert BotChat.objects.get().state == BotChat.State.MENU
    assert vk.sent()[-1]["buttons"] == ["menu:balance", "menu:bookings", "menu:manager", "menu:info"]
