"""The Wazzup emulator over real HTTP, against the documented requests and webhooks
(wazzup24.com/help/api-en/: sending messages, common errors, working with channels, webhooks)."""

import pytest
import requests

from connectors.base.emulator import EmulatorProcess, RunningEmulator
from connectors.wazzup.emulator import WazzupEmulator
from tests.connectors.wazzup.side import CHANNEL_ID

KEY = "emu-api-key"
DOC_SEND = {"channelId": CHANNEL_ID, "chatType": "whatsapp", "chatId": "79011112233", "text": "message text",
            "crmMessageId": "string-crm-message-id"}


def send(emulator, body=None, key=KEY):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return requests.post(f"{emulator.url}/v3/message", json=DOC_SEND if body is None else body, headers=headers,
                         timeout=5)


def knob(emulator, **spec):
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


def test_send_message_as_documented(wazzup_emulator):
    answer = send(wazzup_emulator)
    assert answer.status_code == 201
    data = answer.json()
    assert data["chatId"] == "79011112233" and data["messageId"]
    [stored] = wazzup_emulator.app.state()["messages"]
    assert (stored["id"], stored["chatId"], stored["text"], stored["crmMessageId"], stored["status"]) == (
        data["messageId"], "79011112233", "message text", "string-crm-message-id", "sent")


def test_a_repeated_crm_message_id_is_not_sent_again(wazzup_emulator):
    assert send(wazzup_emulator).status_code == 201
    again = send(wazzup_emulator)
    assert again.status_code == 400
    assert again.json() == {"error": "repeatedCrmMessageId",
                            "description": "You have already sent message with the same crmMessageId"}
    assert len(wazzup_emulator.app.state()["messages"]) == 1
    without = {k: v for k, v in DOC_SEND.items() if k != "crmMessageId"}
    assert send(wazzup_emulator, without).status_code == 201
    assert send(wazzup_emulator, without).status_code == 201  # "the route is not idempotent"


@pytest.mark.parametrize("key", [None, "wrong", ""])
def test_a_missing_or_wrong_key_is_401(wazzup_emulator, key):
    assert send(wazzup_emulator, key=key).status_code == 401
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    assert requests.get(f"{wazzup_emulator.url}/v3/channels", headers=headers, timeout=5).status_code == 401


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"channelId": "00000000-0000-4000-8000-000000000000"}, "CHANNEL_NOT_FOUND", None),
    ({"chatType": "icq"}, "INVALID_MESSAGE_DATA", "chatType"),
    ({"chatType": "telegram"}, "WRONG_TRANSPORT", None),
    ({"chatId": "+7 901 111-22-33"}, "INVALID_MESSAGE_DATA", "chatId"),
    ({"chatId": "7901111"}, "INVALID_MESSAGE_DATA", "chatId"),
    ({"text": ""}, "INVALID_MESSAGE_DATA", "text"),
    ({"contentUri": "https://example.com/a.jpg"}, "INVALID_MESSAGE_DATA", "text"),
    ({"text": "x" * 10_001}, "INVALID_MESSAGE_DATA", "text"),
])
def test_bad_requests_are_400_with_a_code(wazzup_emulator, change, code, field):
    answer = send(wazzup_emulator, {**DOC_SEND, **change})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == code and body["description"]
    if field:
        assert body["data"] == {"fields": [field]}


def test_channels_and_their_state(wazzup_emulator):
    headers = {"Authorization": f"Bearer {KEY}"}
    channels = requests.get(f"{wazzup_emulator.url}/v3/channels", headers=headers, timeout=5).json()
    assert channels == [{"channelId": CHANNEL_ID, "transport": "whatsapp", "plainId": "79865784457",
                         "state": "active"}]
    knob(wazzup_emulator, channel_state="notEnoughMoney")
    assert requests.get(f"{wazzup_emulator.url}/v3/channels", headers=headers, timeout=5).json()[0]["state"] == (
        "notEnoughMoney")
    assert send(wazzup_emulator).json()["error"] == "CHANNEL_NO_MONEY"
    knob(wazzup_emulator, channel_state="phoneUnavailable")
    assert send(wazzup_emulator).json()["error"] == "MESSAGE_CHANNEL_UNAVAILABLE"


def test_the_rate_limit_counts_500_per_5_seconds_as_100_per_second():
    with RunningEmulator(WazzupEmulator(api_key=KEY, channel_id=CHANNEL_ID)) as emulator:
        assert emulator.app.rate_limit == 100
        codes = [send(emulator, {**DOC_SEND, "crmMessageId": str(n)}).status_code for n in range(110)]
        assert codes.count(429) >= 5 and codes[:90].count(201) == 90


def test_setting_the_webhook_url_sends_the_test_post(wazzup_emulator, hook_receiver):
    headers = {"Authorization": f"Bearer {KEY}"}
    uri = f"{hook_receiver.url}/hook"
    answer = requests.patch(f"{wazzup_emulator.url}/v3/webhooks", headers=headers, timeout=5,
                            json={"webhooksUri": uri, "subscriptions": {"messagesAndStatuses": True}})
    assert answer.status_code == 200
    assert [(hook["body"], hook["authorization"]) for hook in hook_receiver.app.received] == [
        ({"test": True}, "Bearer emu-crm-key")]
    settings = requests.get(f"{wazzup_emulator.url}/v3/webhooks", headers=headers, timeout=5).json()
    assert settings == {"webhooksUri": uri, "subscriptions": {"messagesAndStatuses": True}}
    refused = requests.patch(f"{wazzup_emulator.url}/v3/webhooks", headers=headers, timeout=5,
                             json={"webhooksUri": f"{hook_receiver.url}/nowhere"})
    assert refused.status_code == 400 and "Response status must be 200" in refused.json()["description"]


def test_deliver_posts_the_statuses_webhook(wazzup_emulator, hook_receiver):
    knob(wazzup_emulator, webhook_url=f"{hook_receiver.url}/hook", no_whatsapp=["+79005550000"])
    first = send(wazzup_emulator).json()["messageId"]
    nowa = send(wazzup_emulator, {**DOC_SEND, "chatId": "79005550000", "crmMessageId": "2"}).json()["messageId"]
    for message_id, status in ((first, "delivered"), (first, "read"), (nowa, "delivered"), (first, "failed")):
        answer = requests.post(f"{wazzup_emulator.url}/_emulator/deliver", json={"id": message_id, "status": status},
                               timeout=5).json()
        assert answer["status"] == 200
    got = hook_receiver.app.received
    assert all(hook["authorization"] == "Bearer emu-crm-key" for hook in got)
    items = [hook["body"]["statuses"][0] for hook in got]
    assert all(set(hook["body"]) == {"statuses"} for hook in got)
    assert [(i["messageId"], i["status"]) for i in items] == [
        (first, "delivered"), (first, "read"), (nowa, "error"), (first, "error")]
    assert items[2]["error"]["error"] == "BAD_CONTACT" and items[0]["timestamp"]
    assert "error" not in items[0]


def test_incoming_posts_the_messages_webhook(wazzup_emulator, hook_receiver):
    knob(wazzup_emulator, webhook_url=f"{hook_receiver.url}/hook", crm_key="")
    answer = requests.post(f"{wazzup_emulator.url}/_emulator/incoming", json={"from": "+79011112233", "text": "Да"},
                           timeout=5).json()
    assert answer["status"] == 200
    hook = hook_receiver.app.received[0]
    assert hook["authorization"] == ""  # "if not, we don't add the Authorization header at all"
    [item] = hook["body"]["messages"]
    assert item["messageId"] == answer["id"] and item["channelId"] == CHANNEL_ID
    assert (item["chatType"], item["chatId"], item["type"], item["isEcho"], item["text"], item["status"]) == (
        "whatsapp", "79011112233", "text", False, "Да", "inbound")
    assert item["contact"]["name"] and item["dateTime"]


def test_runs_as_a_module():
    with EmulatorProcess("wazzup", "--api-key", KEY, "--channel-id", CHANNEL_ID) as emulator:
        assert send(emulator).status_code == 201
        assert emulator.state()["credentials"]["channel_id"] == CHANNEL_ID
