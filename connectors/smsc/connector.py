"""SMSC connector: the message-channel connector with SMSC's adapter and its callback.

SMSC calls one handler URL (set in its cabinet; here ``/hooks/smsc/<connection key>/``, best
with ``?charset=utf-8``) for delivery statuses (``id``, ``phone``, ``status``, ``err``…) and for
incoming SMS (``sms_id``, ``phone``, ``mes``, ``to``…), form-encoded in windows-1251 unless the
URL names another charset (or JSON with ``fmt=3`` in the URL); both are read. A status becomes
a STATUS inbox row keyed by id and code (a redelivery adds nothing), an incoming SMS an
INCOMING row keyed by SMSC's ``sms_id``. SMSC's optional checksum's formula is not confirmed
(see mapping.py), so it is not checked: the unguessable connection key in the URL is the
secret. Anything else is refused with 400 and kept in the Inbox as rejected.

Connection: base URL empty (https://smsc.ru) or an emulator's; credentials ``login``,
``password``; settings ``sender`` (a registered sender name, optional), ``rate_limit`` (default
``3/second``)."""

from __future__ import annotations

import codecs
from urllib.parse import parse_qsl

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import json_body, require_post
from connectors.channels.connector import ChannelConnector
from connectors.smsc import mapping
from connectors.smsc.adapter import SmscChannel
from connectors.smsc.client import limiter_for
from hub.models import Connection
from hub.services.normalize import phone_normalize
from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent, WebhookParse
from mailings.ports import INCOMING, STATUS

MAX_FIELDS = 100
MAX_TEXT = 10_000  # characters of an incoming SMS; more is not an SMS


def _decoded(body: str, charset: str | None) -> list[tuple[str, str]]:
    """Form fields of ``body`` in the named charset; unnamed: UTF-8 when the bytes are UTF-8
    (Cyrillic windows-1251 practically never is), else SMSC's default windows-1251."""
    for encoding in [charset] if charset else ["utf-8", mapping.CALLBACK_CHARSET]:
        try:
            return parse_qsl(body, keep_blank_values=True, encoding=encoding, errors="strict",
                             max_num_fields=MAX_FIELDS)
        except UnicodeDecodeError:
            continue
        except ValueError as exc:
            raise WebhookRejected(f"Body is not an SMSC callback: {exc}") from exc
    raise WebhookRejected(f"Body is not {charset or 'UTF-8 or windows-1251'} form data.")


def callback_fields(request: HttpRequest) -> dict[str, str]:
    """The callback's fields as text, whatever SMSC was told to send (form or JSON, charset)."""
    body = request.body
    if request.content_type == "application/json" or body.lstrip()[:1] == b"{":
        data = json_body(request)
        fields = {str(k): "" if v is None else str(v) for k, v in data.items() if not isinstance(v, dict | list)}
    elif (request.content_type or "").startswith("multipart/"):
        try:
            fields = dict(request.POST.items())
        except MultiPartParserError as exc:
            raise WebhookRejected(f"Body is not a readable multipart form: {exc}") from exc
    else:
        charset = request.GET.get("charset") or request.content_params.get("charset")
        if charset:
            try:
                codecs.lookup(charset)
            except LookupError as exc:
                raise WebhookRejected(f"Unknown charset {charset[:40]!r}.") from exc
        try:
            text = body.decode("ascii")  # a form body is percent-encoded ASCII
        except UnicodeDecodeError:
            try:
                text = body.decode(charset or "utf-8")
            except UnicodeDecodeError as exc:
                raise WebhookRejected("Body is neither a form nor text in the named charset.") from exc
        fields = {}
        for key, value in _decoded(text, charset):
            fields.setdefault(key, value)
    if any("\x00" in key or "\x00" in value for key, value in fields.items()):
        raise WebhookRejected("Body contains NUL characters.")
    return fields


def _status_event(fields: dict[str, str]) -> InboundEvent:
    message_id = fields["id"].strip()
    if not message_id or len(message_id) > 64 or not message_id.isprintable() or " " in message_id:
        raise WebhookRejected("Status report has no readable message id.")
    code = mapping.code_of(fields["status"])
    if code is None:
        raise WebhookRejected(f"Status {fields['status'][:20]!r} is not a number.")
    found = mapping.delivery(code, mapping.code_of(fields.get("err")))
    if found is None:
        raise WebhookRejected(f"Unknown SMSC status code {code}.")
    status, reason = found
    return InboundEvent(event_key=mapping.status_event_key(message_id, code), kind=STATUS,
                        payload={"provider_id": message_id, "status": status, "error": reason})


def _incoming_event(fields: dict[str, str]) -> InboundEvent:
    raw = fields["phone"].strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    try:  # SMSC names numbers in international format without "+"
        phone = phone_normalize(f"+{digits}" if len(digits) > 10 and not raw.startswith("+") else raw)
    except ValidationError as exc:
        raise WebhookRejected("Incoming SMS: the sender's phone is not a valid number.") from exc
    text = fields["mes"]
    if len(text) > MAX_TEXT:
        raise WebhookRejected(f"Incoming SMS text is too long ({len(text)} characters).")
    return InboundEvent(event_key=mapping.incoming_event_key(fields), kind=INCOMING,
                        payload={"address_kind": "phone", "address": phone, "text": text, "data": "",
                                 "provider_id": fields.get("sms_id", "").strip()})


class SmscConnector(ChannelConnector):
    system = "smsc"
    title = _("SMSC")
    channel = "sms"
    adapter_class = SmscChannel

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        """POST only. SMSC does not sign callbacks unless asked to, with a formula not confirmed
        here: the unguessable connection key in the URL is the secret, so the rest is accepted."""
        require_post(request)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        fields = callback_fields(request)
        if all(name in fields for name in mapping.STATUS_FIELDS):
            event = _status_event(fields)
        elif all(name in fields for name in mapping.INCOMING_FIELDS):
            event = _incoming_event(fields)
        else:
            raise WebhookRejected("Neither a delivery status (id, status) nor an incoming SMS (phone, mes).")
        return WebhookParse(events=[event], response_body=mapping.CALLBACK_ANSWER)
