"""MAXMA's webhook at the hub: Basic authorization checked (a refusal kept), an array of events
is one inbox row per client event, a redelivery adds nothing, events the hub does not use are
acknowledged, and a body that is not MAXMA's shape is refused with the reason. The bodies are
the emulator's own events."""

import base64
import json

import pytest

from hub.models import Inbox
from tests.bonus_programs import bonus_side

pytestmark = pytest.mark.django_db(transaction=True)

PHONE, OTHER = "+79161234567", "+79160000001"


@pytest.fixture
def maxma(db):
    with bonus_side("maxma") as side:
        yield side


def _auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _post(client, side, body, authorization=None, raw=None):
    creds = side.connection.credentials
    authorization = authorization if authorization is not None else _auth(creds["webhook_user"],
                                                                          creds["webhook_password"])
    headers = {"Authorization": authorization} if authorization else {}
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(side.connection.webhook_path, data, content_type="application/json", headers=headers)


def _events(side, name=None):
    return [e for e in side.state()["events"] if name is None or e["event"] == name]


def test_basic_authorization_is_checked_and_a_refusal_kept(maxma, client):
    maxma.join(PHONE, 10)
    body = _events(maxma, "EVENT_CLIENT_BONUSES_CHANGED")
    for authorization in ("", _auth("maxma", "wrong"), _auth("someone", "emu-password"), "Basic ???",
                          "Bearer " + base64.b64encode(b"maxma:emu-password").decode(), "Basic ключ"):
        refused = _post(client, maxma, body, authorization=authorization)
        assert refused.status_code == 401, authorization
        assert "authorization" in refused.json()["error"].lower()
    rejected = Inbox.objects.get()  # kept for audit (the same body refused again is the same row)
    assert rejected.status == "rejected" and "Basic" in rejected.error and rejected.raw_body
    assert client.get(maxma.connection.webhook_path).status_code == 405
    assert _post(client, maxma, body).status_code == 200
    assert Inbox.objects.filter(kind="bonus.client_changed").count() == 1


def test_an_array_of_events_is_one_row_per_event_and_a_redelivery_none(maxma, client):
    maxma.join(PHONE, 0)
    maxma.join(OTHER, 0)
    maxma.operate(PHONE, 30, "Касса")
    new, changed = _events(maxma, "EVENT_CLIENT_NEW")[1], _events(maxma, "EVENT_CLIENT_BONUSES_CHANGED")[0]
    answer = _post(client, maxma, [new, changed])
    assert answer.status_code == 200
    rows = Inbox.objects.filter(kind="bonus.client_changed").order_by("pk")
    assert [(r.event_key, r.payload) for r in rows] == [
        (f"maxma:{new['eventId']}", {"client_id": OTHER, "phone": OTHER}),
        (f"maxma:{changed['eventId']}", {"client_id": PHONE, "phone": PHONE})]
    assert _post(client, maxma, [changed, new]).status_code == 200  # MAXMA delivers again
    assert Inbox.objects.filter(kind="bonus.client_changed").count() == 2

    other_event = {"event": "EVENT_GIFT_CARD_ACTIVATED", "eventId": "g-1", "eventTime": "2026-01-01T00:00:00Z",
                   "source": "api", "EVENT_GIFT_CARD_ACTIVATED": {}}
    assert _post(client, maxma, [other_event]).status_code == 200  # acknowledged, nothing to do
    assert _post(client, maxma, []).status_code == 200
    assert Inbox.objects.filter(kind="bonus.client_changed").count() == 2


def test_a_body_not_in_maxmas_shape_is_refused_with_the_reason(maxma, client):
    maxma.join(PHONE, 0)
    event = _events(maxma, "EVENT_CLIENT_NEW")[0]
    cases = [
        (event, "JSON array"),
        ([event, "text"], "not a JSON object"),
        ([{k: v for k, v in event.items() if k != "eventId"}], "no eventId"),
        ([{**event, "eventId": ""}], "no eventId"),
        ([{**event, "EVENT_CLIENT_NEW": {"clientData": {}}}], "phoneNumber"),
    ]
    for body, reason in cases:
        refused = _post(client, maxma, body)
        assert refused.status_code == 400 and reason in refused.json()["error"], (body, refused.json())
    for raw, reason in ((b"[NaN]", "NaN"), (b"\xff[]", "UTF-8"), (b"[" * 100_000, "nested"), (b"{", "valid JSON")):
        refused = _post(client, maxma, None, raw=raw)
        assert refused.status_code == 400 and reason in refused.json()["error"], (raw[:10], refused.json())
    assert not Inbox.objects.filter(kind="bonus.client_changed").exists()
    assert Inbox.objects.filter(status="rejected").count() == len(cases) + 4
