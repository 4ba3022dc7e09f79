"""Hostile bodies at every webhook, with the right key/secret/signature so they get past the
door: an oversized body, wrong content types, invalid UTF-8, lone surrogates, 10,000-deep (and
900-deep) nesting, an empty body, an array instead of an object, huge numbers, NUL bytes. Never a 5xx; a 4xx says why
(the JSON ``error``) and the request is kept in the Inbox as rejected with that reason;
nothing is written to the domain for a refused request; whatever was accepted is processed
without a crash."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from connectors.base.webhooks import hmac_sha256
from connectors.site import mapping as site_mapping
from hub.models import Connection, Contact, Inbox, Outbox
from hub.services.connections import connection_upsert
from hub.services.inbox import inbox_process
from tests.helpers import PARSER_CRASHED

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
NOWHERE = "http://127.0.0.1:9"  # the doors never call out; processing that would, fails recorded


@dataclass
class Door:
    """How a request gets past one system's door: headers (may depend on the body), and what
    a form or a JSON object must carry in the body itself."""

    connection: Connection
    headers: Callable[[bytes], dict[str, str]] = lambda body: {}
    form_secret: bytes = b""  # urlencoded field(s) the system authenticates with
    json_secret: dict[str, Any] = field(default_factory=dict)

    def post(self, body: bytes, content_type: str) -> Any:
        client = Client(raise_request_exception=False)  # a 500 is reported as one, not raised
        return client.post(self.connection.webhook_path, body, content_type=content_type, headers=self.headers(body))


def _connect(system: str, credentials: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
             ) -> Connection:
    connection, _ = connection_upsert(name=f"hostile {system}", system=system, base_url=NOWHERE,
                                      credentials=credentials or {}, settings=settings or {})
    return connection


def _site_headers(body: bytes) -> dict[str, str]:
    stamp = int(time.time())
    return {site_mapping.TIMESTAMP_HEADER: str(stamp),
            site_mapping.SIGNATURE_HEADER: site_mapping.sign("s", stamp, body)}


DOORS: dict[str, Callable[[], Door]] = {
    "amocrm": lambda: Door(_connect("amocrm", {"client_id": "c"}, {"subdomain": "demo"}),
                           form_secret=b"account%5Bsubdomain%5D=demo"),
    "bitrix24": lambda: Door(_connect("bitrix24", {"application_token": "b24-token"}),
                             form_secret=b"auth%5Bapplication_token%5D=b24-token"),
    "greenapi": lambda: Door(_connect("greenapi", {"id_instance": "1101000001", "api_token": "t",
                                                   "webhook_token": "hook"}),
                             headers=lambda body: {"Authorization": "Bearer hook"}),
    "maxma": lambda: Door(_connect("maxma", {"processing_key": "k", "webhook_user": "u", "webhook_password": "p"}),
                          headers=lambda body: {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}),
    "samosale": lambda: Door(_connect("samosale", {"api_key": "k", "webhook_secret": "s"}),
                             headers=lambda body: {"X-Samosale-Signature": hmac_sha256("s", body)}),
    "site": lambda: Door(_connect("site", {"secret": "s"}), headers=_site_headers),
    "smsc": lambda: Door(_connect("smsc", {"login": "l", "password": "p"})),
    "smsru": lambda: Door(_connect("smsru", {"api_id": "a"})),
    "telegram": lambda: Door(_connect("telegram", {"token": "1:x", "webhook_secret": "tg"}),
                             headers=lambda body: {"X-Telegram-Bot-Api-Secret-Token": "tg"}),
    "tilda": lambda: Door(_connect("tilda", {"api_key": "tk"}), headers=lambda body: {"api_key": "tk"}),
    "vk": lambda: Door(_connect("vk", {"access_token": "x", "secret": "vk", "confirmation": "c"},
                                {"group_id": 229000001}), json_secret={"secret": "vk", "group_id": 229000001}),
    "wazzup": lambda: Door(_connect("wazzup", {"api_key": "k", "crm_key": "crm"}, {"channel_id": "ch"}),
                           headers=lambda body: {"Authorization": "Bearer crm"}),
    "webhook": lambda: Door(_connect("webhook", {"token": "t", "secret": "s"}),
                            headers=lambda body: {"X-Hub-Signature": hmac_sha256("s", body)}),
}

DEEP = 10_000


# fields that make an object look like an event to most systems, so odd values get further in
EVENTISH = {"id": "1", "type": "contact.upsert", "tranid": "t-1", "update_id": 1, "event_id": "e-1"}


def _obj(door: Door, **fields: Any) -> bytes:
    return json.dumps({**door.json_secret, **fields}).encode()


def _obj_with(door: Door, raw_member: bytes, **fields: Any) -> bytes:
    """An object with one member written as raw JSON text (what json.dumps cannot produce)."""
    return _obj(door, **fields)[:-1] + b", " + raw_member + b"}"


def _form(door: Door, tail: bytes) -> bytes:
    return door.form_secret + (b"&" if door.form_secret else b"") + tail


# name → (door → (body, content type)); each is sent to every system.
HOSTILE: dict[str, Callable[[Door], tuple[bytes, str]]] = {
    "empty json": lambda d: (b"", JSON),
    "empty form": lambda d: (b"", FORM),
    "empty, no content type": lambda d: (b"", ""),
    "json array": lambda d: (json.dumps([{**d.json_secret, "id": 1, "type": "x"}]).encode(), JSON),
    "json scalar": lambda d: (b'"hello"', JSON),
    "json null": lambda d: (b"null", JSON),
    "not json": lambda d: (b"{not json", JSON),
    "deep json arrays": lambda d: (b"[" * DEEP + b"]" * DEEP, JSON),
    "deep json objects": lambda d: (b'{"a":' * DEEP + b"1" + b"}" * DEEP, JSON),
    "deep inside an object": lambda d: (_obj_with(d, b'"data": ' + b"[" * DEEP + b"]" * DEEP, **EVENTISH), JSON),
    "nested just under the parser's limit": lambda d: (_obj_with(d, b'"data": ' + b"[" * 900 + b"]" * 900,
                                                               **EVENTISH), JSON),
    "lone surrogate escaped": lambda d: (_obj_with(d, b'"name": "\\ud800 \\udfff"', **EVENTISH), JSON),
    "lone surrogate in a message": lambda d: (_obj(d, **{**EVENTISH, "type": "message_new"}, object={"message": {
        "id": 1, "from_id": 1, "peer_id": 1, "text": "\ud800"}}, message={
        "message_id": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 1}, "text": "\udfff"}), JSON),
    "deep json inside a string": lambda d: (_obj(d, **{**EVENTISH, "type": "message_new"}, object={"message": {
        "id": 1, "from_id": 1, "peer_id": 1, "text": "", "payload": "[" * DEEP + "]" * DEEP}}), JSON),
    "invalid utf-8 json": lambda d: (_obj_with(d, b'"name": "\xff\xfe\xc3\x28"', **EVENTISH), JSON),
    "invalid utf-8 bytes": lambda d: (b"\xff\xfe\xfd" * 50, JSON),
    "utf-16 json": lambda d: (_obj(d, **EVENTISH).decode().encode("utf-16"), JSON),
    "nul byte raw": lambda d: (_obj_with(d, b'"name": "a\x00b"', **EVENTISH), JSON),
    "nul escaped": lambda d: (_obj(d, **EVENTISH, name="a\u0000b"), JSON),
    "huge integer": lambda d: (_obj_with(d, b'"n": ' + b"9" * 5000, **EVENTISH), JSON),
    "big integers": lambda d: (_obj(d, id=10**30, update_id=10**30, event_id=10**30, type="x"), JSON),
    "float overflow": lambda d: (_obj_with(d, b'"amount": 1e999', **EVENTISH), JSON),
    "nan": lambda d: (_obj_with(d, b'"amount": NaN', **EVENTISH), JSON),
    "json as text/plain": lambda d: (_obj(d, **EVENTISH), "text/plain"),
    "json as xml": lambda d: (_obj(d, **EVENTISH), "application/xml"),
    "json as form": lambda d: (_obj(d, **EVENTISH), FORM),
    "form as json": lambda d: (_form(d, b"id=1&type=x"), JSON),
    "multipart without boundary": lambda d: (_form(d, b"id=1"), "multipart/form-data"),
    "multipart garbage": lambda d: (b"--xx\r\nnot a part\r\n--xx--", "multipart/form-data; boundary=xx"),
    "form invalid utf-8": lambda d: (
        _form(d, b"event=ONCRMCONTACTUPDATE&data%5BFIELDS%5D%5BID%5D=1&name=\xff%FF%C3%28"), FORM),
    "form nul": lambda d: (_form(d, b"event=ONCRMCONTACTUPDATE&data%5BFIELDS%5D%5BID%5D=1%00&Name=a%00b"), FORM),
    "form deep keys": lambda d: (_form(d, b"contacts" + b"%5Bx%5D" * DEEP + b"=1"), FORM),
    "form deep amo keys": lambda d: (_form(d, b"contacts%5Bupdate%5D%5B0%5D" + b"%5B0%5D" * DEEP + b"=1"), FORM),
    "form huge numbers": lambda d: (_form(d, b"event=ONCRMCONTACTUPDATE&data%5BFIELDS%5D%5BID%5D=" + b"9" * 5000
                                          + b"&contacts%5Bupdate%5D%5B0%5D%5Bid%5D=" + b"9" * 5000), FORM),
    "form many fields": lambda d: (_form(d, b"&".join(b"f%d=1" % n for n in range(2000))), FORM),
    "form too many fields": lambda d: (_form(d, b"f=1&" * django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS), FORM),
    "binary": lambda d: (bytes(range(256)) * 4, "application/octet-stream"),
}


def _domain_counts() -> tuple[int, ...]:
    return Contact.objects.count(), Outbox.objects.count()


def _last_inbox() -> int:
    return Inbox.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _check(door: Door, body: bytes, content_type: str) -> tuple[int, str]:
    """Send one hostile request, check the answer, the Inbox and the domain; (status, problem)."""
    before, counts = _last_inbox(), _domain_counts()
    answer = door.post(body, content_type)
    if answer.status_code >= 500:
        return answer.status_code, f"server error: {answer.content[:200]!r}"
    new = Inbox.objects.filter(pk__gt=before)
    if answer.status_code >= 400:
        try:
            reason = answer.json()["error"]
        except (ValueError, KeyError, TypeError):
            return answer.status_code, f"no reason in the answer: {answer.content[:200]!r}"
        if not isinstance(reason, str) or not reason.strip():
            return answer.status_code, f"an empty reason: {reason!r}"
        if reason == PARSER_CRASHED:
            return answer.status_code, "the connector's parser crashed (the view's catch-all answered)"
        if not Inbox.objects.filter(source=f"{door.connection.system}:{door.connection.pk}",
                                    status=Inbox.Status.REJECTED, error=reason[:4000]).exists():
            return answer.status_code, f"refused ({reason}) but not kept in the Inbox as rejected"
        if new.exclude(status=Inbox.Status.REJECTED).exists() or _domain_counts() != counts:
            return answer.status_code, f"refused ({reason}) but something was written"
        return answer.status_code, ""
    for row in new.filter(status=Inbox.Status.RECEIVED):
        processed = inbox_process(row.pk)
        if processed.status == Inbox.Status.RECEIVED or (processed.status != Inbox.Status.PROCESSED
                                                         and not processed.error.strip()):
            return answer.status_code, f"accepted, then processing left {processed.status} {processed.error!r}"
    return answer.status_code, ""


@pytest.mark.parametrize("system", sorted(DOORS))
def test_hostile_bodies_never_make_a_server_error(system):
    door = DOORS[system]()
    results = {name: _check(door, *make(door)) for name, make in HOSTILE.items()}
    assert {name: problem for name, (_, problem) in results.items() if problem} == {}
    # the door was passed: unreadable bodies are refused for what they are, not for a missing key
    assert any(400 <= code < 500 and code not in (401, 403) for code, _ in results.values()), results


@pytest.mark.parametrize("content_type", [JSON, FORM])
@pytest.mark.parametrize("system", sorted(DOORS))
def test_an_oversized_body_is_413_with_the_limit_and_kept(system, content_type):
    door = DOORS[system]()
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if content_type == FORM:
        body = _form(door, b"event=ONCRMCONTACTUPDATE&pad=" + b"x" * limit)
    else:
        body = _obj(door, id="big", type="x")[:-1] + b', "pad": "' + b"x" * limit + b'"}'
    before, counts = _last_inbox(), _domain_counts()
    answer = door.post(body, content_type)
    assert answer.status_code == 413, answer.content[:300]
    assert str(limit) in answer.json()["error"]
    kept = Inbox.objects.get(pk__gt=before)
    assert kept.status == Inbox.Status.REJECTED and kept.error == answer.json()["error"]
    assert len(kept.raw_body) < 100 and "xxxx" not in kept.raw_body  # not kept: it could not be redacted
    assert door.post(body, content_type).status_code == 413
    assert Inbox.objects.filter(pk__gt=before).count() == 1  # the same body again is the same row
    assert _domain_counts() == counts


def test_tokens_in_an_unreadable_bitrix24_form_are_not_kept():
    door = DOORS["bitrix24"]()
    body = door.form_secret + b"&auth%5Baccess_token%5D=live-access-token&event=ONCRMCONTACTUPDATE"
    answer = door.post(body, "multipart/form-data")  # no boundary: Django cannot read it
    assert answer.status_code == 400 and "readable form" in answer.json()["error"]
    kept = Inbox.objects.get(status=Inbox.Status.REJECTED)
    assert "live-access-token" not in kept.raw_body and "b24-token" not in kept.raw_body
    assert "ONCRMCONTACTUPDATE" in kept.raw_body


def test_the_storability_checks_let_real_bodies_through():
    """Emoji written as escaped surrogate pairs and a dozen levels of nesting are normal."""
    door = DOORS["webhook"]()
    nested: dict[str, Any] = {"leaf": "🎉"}
    for _ in range(12):
        nested = {"x": [nested]}
    body = json.dumps({"id": "ok-1", "type": "order.created", "data": {"note": "Праздник 🎉", "deep": nested}}).encode()
    assert b"\\ud83c\\udf89" in body  # json.dumps escapes it as a surrogate pair
    answer = door.post(body, JSON)
    assert answer.status_code == 200, answer.content
    assert Inbox.objects.get(event_key="ok-1").payload["data"]["note"] == "Праздник 🎉"
