"""VK's Callback API at the hub: the confirmation answered with the confirmation string, the
secret in the body checked (a refusal kept for audit only, the secret never stored), one inbox
row per event in the port's neutral shape, a redelivery adds nothing, bad bodies refused with the
reason. The events are the emulator's own (real-shaped). Rows are asserted, not their
processing: that is the mailings domain's."""

import json

import pytest
import requests

from connectors.vk.adapter import VkBot
from hub.models import Inbox
from mailings.ports import INCOMING, Button, OutgoingMessage
from tests.connectors.vk.side import CONFIRMATION, SECRET

pytestmark = pytest.mark.django_db(transaction=True)

USER = 1_000_001


def event(vk, action="incoming", **spec):
    """A real-shaped event made by the emulator (no server set: it is returned, not posted)."""
    answer = requests.post(f"{vk.url}/_emulator/{action}", json={"from": USER, **spec}, timeout=5)
    assert answer.status_code == 409
    return answer.json()["event"]


def post(client, vk, body, raw=None):
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(vk.connection.webhook_path, data=data, content_type="application/json")


def events():
    return list(Inbox.objects.exclude(status=Inbox.Status.REJECTED).order_by("pk"))


def test_the_confirmation_request_gets_the_confirmation_string(vk, client):
    body = {"type": "confirmation", "group_id": vk.connection.settings["group_id"], "secret": SECRET}
    answer = post(client, vk, body)
    assert answer.status_code == 200 and answer.content.decode() == CONFIRMATION
    assert answer["Content-Type"].startswith("text/plain")
    without_secret = post(client, vk, {"type": "confirmation", "group_id": body["group_id"]})
    assert without_secret.content.decode() == CONFIRMATION  # VK may not send the secret with it
    assert post(client, vk, {**body, "secret": "wrong"}).status_code == 403
    assert events() == []


def test_a_message_is_an_incoming_row_answered_ok(vk, client):
    body = event(vk, text="Хочу забронировать")
    answer = post(client, vk, body)
    assert answer.status_code == 200 and answer.content.decode() == "ok"
    [row] = events()
    message = body["object"]["message"]
    assert row.kind == INCOMING and row.event_key == f"vk:{body['event_id']}"
    assert row.payload == {"address_kind": "vk", "address": str(USER), "text": "Хочу забронировать", "data": "",
                           "provider_id": str(message["id"]), "peer_id": str(USER)}
    assert SECRET not in row.raw_body and '"secret": "***"' in row.raw_body


def test_a_pressed_button_carries_its_data(vk, client):
    body = event(vk, "press", data="nps:8")
    assert post(client, vk, body).status_code == 200
    [row] = events()
    assert row.kind == INCOMING and row.payload["data"] == "nps:8" and row.payload["text"] == "nps:8"


def test_a_redelivered_event_is_one_row(vk, client):
    body = event(vk, text="Привет")
    assert post(client, vk, body).content.decode() == "ok"
    assert post(client, vk, body).content.decode() == "ok"  # VK retries until it reads "ok"
    assert len(events()) == 1


def test_other_events_are_kept(vk, client):
    base = {k: v for k, v in event(vk, text="x").items() if k != "object"}
    joined = {**base, "type": "group_join", "event_id": "e" * 40, "object": {"user_id": USER, "join_type": "join"}}
    sticker = event(vk, text="x")
    sticker["object"]["message"]["text"] = ""
    for body in (joined, sticker):
        assert post(client, vk, body).content.decode() == "ok"
    assert [(r.kind, r.payload["type"]) for r in events()] == [("vk.event", "group_join"), ("vk.event", "message_new")]
    assert events()[0].payload["object"] == {"user_id": USER, "join_type": "join"}


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x"])
def test_a_wrong_secret_is_403_and_nothing_is_stored(vk, client, secret):
    body = event(vk, text="Привет")
    if secret is None:
        del body["secret"]
    else:
        body["secret"] = secret
    answer = post(client, vk, body)
    assert answer.status_code == 403 and "secret" in answer.json()["error"]
    assert events() == []
    rejected = Inbox.objects.get()
    assert rejected.status == Inbox.Status.REJECTED and SECRET not in rejected.raw_body


def test_an_event_for_another_community_is_refused(vk, client):
    assert post(client, vk, {**event(vk, text="x"), "group_id": 1}).status_code == 403
    assert events() == []


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{", "valid JSON"),
    (b'["message_new"]', "JSON object"),
    (None, "event_id"),
    (b"\xff", "UTF-8"),
])
def test_garbage_is_400_with_a_reason(vk, client, raw, reason):
    if raw is None:
        body = event(vk, text="x")
        del body["event_id"]
        raw = json.dumps(body).encode()
    answer = post(client, vk, None, raw=raw)
    assert answer.status_code == 400 and reason in answer.json()["error"]
    assert events() == []


def test_only_post_is_accepted(vk, client):
    assert client.get(vk.connection.webhook_path).status_code == 405


def test_confirmation_messages_and_presses_end_to_end(vk, live_server):
    vk.hook_to(live_server)
    confirmed = requests.post(f"{vk.url}/_emulator/confirm", timeout=30).json()
    assert confirmed["confirmed"] is True and confirmed["body"] == CONFIRMATION
    assert vk.reply(str(USER), "Здравствуйте") == 200
    assert vk.press(str(USER), "later") == 200
    rows = events()
    assert [(r.kind, r.payload["text"], r.payload["data"]) for r in rows] == [
        (INCOMING, "Здравствуйте", ""), (INCOMING, "later", "later")]
    posted = [e for e in vk.state()["events"] if e["type"] == "message_new"]
    assert [r.event_key for r in rows] == [f"vk:{e['event_id']}" for e in posted]


def test_the_side_speaks_for_the_client(vk, live_server):
    assert vk.buttons and not vk.statuses
    VkBot(vk.connection).send(OutgoingMessage(key="k", address=str(USER), text="Как вам?",
                                              buttons=((Button("Хорошо", "good"),),)))
    assert vk.sent() == [{"id": "1", "to": str(USER), "text": "Как вам?", "buttons": ["good"]}]
    vk.hook_to(live_server)
    assert vk.reply(str(USER), "Спасибо") == 200
    assert vk.press(str(USER), "good") == 200
    assert [r.payload["text"] for r in events()] == ["Спасибо", "Хорошо"]  # the label, as VK sends it
