"""The site emulator against PROTOCOL.md, with requests signed by hand (not by SiteClient)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time

import pytest
import requests
from PIL import Image
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import RunningEmulator
from connectors.site.emulator import SiteEmulator

SECRET = "emu-site-secret"
SALE = {"event_id": "5", "order_id": "1001",
        "buyer": {"name": "Анна", "last_name": "Петрова", "phone": "+7 916 000-00-01", "email": "anna@example.ru"},
        "tickets": [{"product_id": "77", "name": "Взрослый билет", "price": "1500.00", "quantity": 2}]}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def _signature(secret: str, timestamp: int | str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _call(url: str, method: str, path: str, payload: object = None, *, secret: str = SECRET,
          timestamp: int | None = None, raw: bytes | None = None) -> requests.Response:
    body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
    stamp = int(time.time()) if timestamp is None else timestamp
    headers = {"X-Hub-Timestamp": str(stamp), "X-Hub-Signature": _signature(secret, stamp, body),
               "Content-Type": "application/json"}
    return requests.request(method, f"{url}{path}", data=body, headers=headers, timeout=10)


def _knob(url: str, spec: dict) -> None:
    assert requests.post(f"{url}/_emulator/faults", json=spec, timeout=5).status_code == 200


def _state(url: str) -> dict:
    return requests.get(f"{url}/_emulator/state", timeout=5).json()


def _image(data: bytes, content_type: str = "image/png", name: str = "poster.png") -> dict:
    return {"name": name, "content_type": content_type, "data": base64.b64encode(data).decode()}


@pytest.fixture
def site():
    with RunningEmulator(SiteEmulator(secret=SECRET, site_name="Крыши")) as running:
        yield running.url


@pytest.fixture
def template_id(site):
    answer = _call(site, "PUT", "/templates/hub-t-1", {"title": "Крыши", "description_html": "<p>x</p>",
                                                       "image": None})
    return answer.json()["id"]


class Receiver:
    """The hub's side of a sale: records each delivery, answers the queued statuses (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict, bytes]] = []
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}/hooks/site/key/"

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.received.append((dict(request.headers), request.get_data()))
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(json.dumps({"ok": status == 200}), status=status,
                        mimetype="application/json")(environ, start_response)


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def start(*statuses: int) -> Receiver:
        hub = Receiver(list(statuses))
        threading.Thread(target=hub.server.serve_forever, daemon=True).start()
        made.append(hub)
        return hub

    yield start
    for hub in made:
        hub.server.shutdown()


# signing ------------------------------------------------------------------------------------------
def test_ping_answers_the_site_name_when_signed(site):
    answer = _call(site, "GET", "/ping")
    assert answer.status_code == 200 and answer.json() == {"ok": True, "site": "Крыши"}
    assert _state(site)["credentials"] == {"secret": SECRET}


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "missing X-Hub-Timestamp"),
    ({"X-Hub-Timestamp": "yesterday", "X-Hub-Signature": "sha256=00"}, "not unix seconds"),
    ({"X-Hub-Timestamp": "{now}"}, "missing X-Hub-Signature"),
    ({"X-Hub-Timestamp": "{now}", "X-Hub-Signature": "sha256=00"}, "does not match"),
    ({"X-Hub-Timestamp": "{old}", "X-Hub-Signature": "{sig_old}"}, "away from the site's clock"),
    ({"X-Hub-Timestamp": "{future}", "X-Hub-Signature": "{sig_future}"}, "away from the site's clock"),
    ({"X-Hub-Timestamp": "{now}", "X-Hub-Signature": "{sig_wrong_secret}"}, "does not match"),
])
def test_unsigned_stale_or_forged_requests_are_401(site, headers, reason):
    now = int(time.time())
    body = json.dumps({"title": "x"}).encode()
    values = {"now": str(now), "old": str(now - 301), "future": str(now + 301),
              "sig_old": _signature(SECRET, now - 301, body), "sig_future": _signature(SECRET, now + 301, body),
              "sig_wrong_secret": _signature("other", now, body)}
    sent = {k: v.format(**values) for k, v in headers.items()}
    answer = requests.put(f"{site}/templates/hub-t-1", data=body, headers=sent, timeout=5)
    assert answer.status_code == 401 and reason in answer.json()["error"]
    assert _state(site)["templates"] == []


def test_a_signature_of_another_body_is_refused(site):
    stamp = int(time.time())
    headers = {"X-Hub-Timestamp": str(stamp), "X-Hub-Signature": _signature(SECRET, stamp, b'{"title": "a"}')}
    answer = requests.put(f"{site}/templates/hub-t-1", data=b'{"title": "b"}', headers=headers, timeout=5)
    assert answer.status_code == 401


# templates ------------------------------------------------------------------------------------------
def test_templates_are_created_once_by_xml_id_and_updated_in_part(site):
    png = _png()
    body = {"title": "Крыши Петербурга", "description_html": "<p>Экскурсия</p>", "image": _image(png)}
    first = _call(site, "PUT", "/templates/hub-t-1", body).json()
    again = _call(site, "PUT", "/templates/hub-t-1", body).json()
    assert first["created"] is True and again == {"id": first["id"], "created": False}
    [template] = _state(site)["templates"]
    assert template["image"] == {"name": "poster.png", "content_type": "image/png", "size": len(png),
                                 "sha256": hashlib.sha256(png).hexdigest()}
    assert template["updated"] == 2

    assert _call(site, "PUT", "/templates/hub-t-1", {"title": "Новое название"}).status_code == 200
    [template] = _state(site)["templates"]
    assert (template["title"], template["description_html"]) == ("Новое название", "<p>Экскурсия</p>")
    assert template["image"] is not None  # absent key: left as it is
    assert _call(site, "PUT", "/templates/hub-t-1", {"image": None}).status_code == 200
    assert _state(site)["templates"][0]["image"] is None

    other = _call(site, "PUT", "/templates/hub-t-2", {"title": "Другой"}).json()
    assert other["created"] is True and other["id"] != first["id"]


@pytest.mark.parametrize(("image", "status", "reason"), [
    (_image(b"%PDF-1.4 not a picture", "image/png", "notes.pdf"), 422, "not a JPEG, PNG, WebP or GIF"),
    (_image(b"GIF89a" + b"\x00" * 16, "application/pdf", "x.gif"), 422, "is not one of"),
    (_image(b"\xff\xd8\xff\xe0" + b"\x00" * 16, "image/png"), 422, "is image/jpeg, not image/png"),
    (_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"), 200, ""),
    ({"name": "a.png", "content_type": "image/png", "data": "not base64!"}, 400, "not base64"),
    ({"name": "a.png", "content_type": "image/png"}, 400, "image must be null or"),
    ("poster.png", 400, "image must be null or"),
])
def test_images_are_checked_by_their_bytes(site, image, status, reason):
    answer = _call(site, "PUT", "/templates/hub-t-1", {"title": "x", "image": image})
    assert answer.status_code == status
    if reason:
        assert reason in answer.json()["error"]
        assert _state(site)["templates"] == []  # nothing half-written


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{not json", "malformed JSON"),
    (b'["title"]', "must be a JSON object"),
    (json.dumps({"title": "x" * 256}).encode(), "longer than 255"),
    (json.dumps({"title": 5}).encode(), "title must be a string"),
    (json.dumps({"name": "x"}).encode(), "unknown fields: name"),
])
def test_malformed_template_bodies_are_400(site, raw, reason):
    answer = _call(site, "PUT", "/templates/hub-t-1", raw=raw)
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_a_body_over_the_limit_is_413(site):
    _knob(site, {"max_body": 1000})
    body = {"title": "x", "description_html": "y" * 2000}
    answer = _call(site, "PUT", "/templates/hub-t-1", body)
    assert answer.status_code == 413 and "1000 bytes" in answer.json()["error"]
    assert _call(site, "PUT", "/templates/hub-t-1", {"title": "x"}).status_code == 200


def test_the_default_limit_is_ten_megabytes():
    assert SiteEmulator().max_body == 10 * 1024 * 1024


# events -------------------------------------------------------------------------------------------------
def test_events_need_a_template_and_change_only_what_is_sent(site, template_id):
    assert _call(site, "PUT", "/events/hub-e-1", {"title": "Крыши"}).status_code == 422
    unknown = _call(site, "PUT", "/events/hub-e-1", {"template_id": "999", "title": "Крыши"})
    assert unknown.status_code == 422 and "is not a template" in unknown.json()["error"]
    assert _state(site)["events"] == []

    created = _call(site, "PUT", "/events/hub-e-1", {"template_id": template_id, "title": "Крыши"}).json()
    assert created["created"] is True
    event_id = created["id"]
    # Another event's id is not a template either.
    assert _call(site, "PUT", "/events/hub-e-2", {"template_id": event_id}).status_code == 422

    released = {"template_id": template_id, "starts_at": "2026-12-05T18:30:00+03:00", "speaker": "Иван Петров"}
    assert _call(site, "PUT", "/events/hub-e-1", released).json() == {"id": event_id, "created": False}
    assert _call(site, "PUT", "/events/hub-e-1", {"template_id": template_id, "host": "Мария"}).status_code == 200
    [event] = _state(site)["events"]
    assert {k: event[k] for k in ("xml_id", "id", "template_id", "title", "starts_at", "speaker", "host")} == {
        "xml_id": "hub-e-1", "id": event_id, "template_id": template_id, "title": "Крыши",
        "starts_at": "2026-12-05T18:30:00+03:00", "speaker": "Иван Петров", "host": "Мария"}
    assert event["history"] == [{"template_id": template_id, "title": "Крыши"},
                                {"starts_at": "2026-12-05T18:30:00+03:00", "speaker": "Иван Петров"},
                                {"host": "Мария"}]
    # An update need not repeat template_id; null clears the date.
    assert _call(site, "PUT", "/events/hub-e-1", {"starts_at": None}).status_code == 200
    assert _state(site)["events"][0]["starts_at"] is None


@pytest.mark.parametrize(("body", "reason"), [
    ({"starts_at": "2026-12-05T18:30:00"}, "no UTC offset"),
    ({"starts_at": "5 декабря"}, "not ISO 8601"),
    ({"speaker": None}, "speaker must be a string"),
    ({"template_id": 1}, "template_id must be a string"),
    ({"place": "крыша"}, "unknown fields: place"),
])
def test_malformed_event_fields_are_400(site, template_id, body, reason):
    answer = _call(site, "PUT", "/events/hub-e-1", {"template_id": template_id, **body}
                   if "template_id" not in body else body)
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_unknown_paths_are_404_and_reset_empties_the_site(site, template_id):
    assert _call(site, "GET", "/nothing").status_code == 404
    assert requests.post(f"{site}/_emulator/reset", timeout=5).status_code == 200
    assert _state(site)["templates"] == []


# faults ------------------------------------------------------------------------------------------------
def test_faults_take_the_site_down_and_clearing_brings_it_back(site):
    _knob(site, {"status": 503, "times": 2, "retry_after": 30})
    first = _call(site, "GET", "/ping")
    assert first.status_code == 503 and first.headers["Retry-After"] == "30.0"
    assert _call(site, "PUT", "/templates/hub-t-1", {"title": "x"}).status_code == 503
    assert _call(site, "GET", "/ping").status_code == 200

    _knob(site, {"faults": [{"status": 503, "times": 1000}]})
    assert [_call(site, "GET", "/ping").status_code for _ in range(3)] == [503, 503, 503]
    assert _state(site)["templates"] == []
    _knob(site, {"clear": True})
    assert _call(site, "PUT", "/templates/hub-t-1", {"title": "x"}).status_code == 200


# sales to the hub ------------------------------------------------------------------------------------------
def _verified(headers: dict, body: bytes) -> bool:
    stamp = headers["X-Hub-Timestamp"]
    fresh = abs(int(stamp) - time.time()) <= 300
    return fresh and hmac.compare_digest(_signature(SECRET, stamp, body), headers["X-Hub-Signature"])


def test_a_sale_is_posted_signed_and_retried_after_a_500(site, receiver):
    hub = receiver(500)
    _knob(site, {"hub_url": hub.url})
    answer = requests.post(f"{site}/_emulator/sell", json=SALE, timeout=30)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["hub_status"] == 200 and [a["status"] for a in result["attempts"]] == [500, 200]
    assert len(hub.received) == 2
    assert all(_verified(headers, body) for headers, body in hub.received)
    assert hub.received[0][1] == hub.received[1][1]  # the same event, so the hub can dedupe it

    sent = json.loads(hub.received[1][1])
    assert sent == result["body"] and sent["id"] == result["event_id"] and sent["type"] == "order.paid"
    order = sent["order"]
    assert {k: order[k] for k in ("id", "event_id", "refunded_at", "amount")} == {
        "id": "1001", "event_id": "5", "refunded_at": None, "amount": "3000.00"}
    assert order["buyer"] == SALE["buyer"] and order["tickets"] == SALE["tickets"]
    assert order["created_at"][-6:] == "+03:00"

    refund = requests.post(f"{site}/_emulator/sell", json={"order_id": "1001", "refund": True}, timeout=30).json()
    refunded = refund["body"]
    assert refunded["type"] == "order.refunded" and refunded["id"] != sent["id"]
    assert refunded["order"]["refunded_at"] and {**refunded["order"], "refunded_at": None} == order
    assert [s["type"] for s in _state(site)["sent_sales"]] == ["order.paid", "order.refunded"]
    again = requests.post(f"{site}/_emulator/sell", json={"order_id": "1001", "refund": True}, timeout=30)
    assert again.status_code == 400 and "already refunded" in again.json()["error"]


def test_a_sale_the_hub_keeps_refusing_is_tried_six_times_then_reported(site, receiver):
    hub = receiver(*[403] * 10)
    _knob(site, {"hub_url": hub.url})
    answer = requests.post(f"{site}/_emulator/sell", json={**SALE, "order_id": None}, timeout=30)
    assert answer.status_code == 502 and answer.json()["hub_status"] == 403
    assert len(hub.received) == 6  # the first try and 5 retries
    [sale] = _state(site)["sent_sales"]
    assert sale["hub_status"] == 403 and sale["order_id"].isdigit()


def test_sell_needs_a_hub_url_and_a_real_order(site, receiver):
    assert requests.post(f"{site}/_emulator/sell", json=SALE, timeout=5).status_code == 400
    _knob(site, {"hub_url": receiver().url})
    assert requests.post(f"{site}/_emulator/sell", json={**SALE, "tickets": []}, timeout=5).status_code == 400
    unknown = requests.post(f"{site}/_emulator/sell", json={"order_id": "77", "refund": True}, timeout=5)
    assert unknown.status_code == 400 and "order_id" in unknown.json()["error"]
