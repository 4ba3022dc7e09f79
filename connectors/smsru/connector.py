"""SMS.ru connector: the message-channel connector with SMS.ru's adapter and status callback.

SMS.ru POSTs delivery statuses to the handler URL set in its cabinet (here
``/hooks/smsru/<connection key>/``) as form field ``data[]`` entries
``sms_status\\n<sms_id>\\n<code>\\n<unix time>``, and must be answered with the text ``100``.
Authenticity: the connection's webhook key in the URL is unguessable and is the first secret;
SMS.ru also sends ``hash`` = sha256(api_id + entries), which is checked when present (a wrong
one is refused with 403). Each status becomes one STATUS inbox row keyed by id and code, so a
redelivery adds nothing. SMS.ru's documentation shows no incoming-SMS callback: no replies.

Connection: base URL empty (https://sms.ru) or an emulator's; credentials ``api_id``; settings
``sender`` (an approved sender name, optional), ``rate_limit`` (default ``5/second``)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl

from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.base.webhooks import require_post, require_secret
from connectors.channels.connector import ChannelConnector
from connectors.smsru import mapping
from connectors.smsru.adapter import SmsruChannel
from connectors.smsru.client import limiter_for
from hub.models import Connection
from hub.sync.errors import WebhookRejected
from hub.sync.types import InboundEvent, WebhookParse
from mailings.ports import STATUS

MAX_FIELDS = 2 * mapping.MAX_ENTRIES + 10


def form_pairs(request: HttpRequest) -> list[tuple[str, str]]:
    """The form fields in the body's order (the hash is over the entries in that order)."""
    if (request.content_type or "").startswith("multipart/"):
        try:
            return [(key, value) for key, values in request.POST.lists() for value in values]
        except MultiPartParserError as exc:
            raise WebhookRejected(f"Body is not a readable multipart form: {exc}") from exc
    try:
        text = request.body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise WebhookRejected("Body is not UTF-8 form data.") from exc
    except ValueError as exc:  # more fields than any callback carries
        raise WebhookRejected(f"Body is not an SMS.ru callback: {exc}") from exc
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise WebhookRejected("Body contains NUL characters.")
    return pairs


def data_entries(pairs: list[tuple[str, str]]) -> list[str]:
    entries = [value for key, value in pairs if mapping.CALLBACK_DATA.match(key)]
    if not entries:
        raise WebhookRejected("No data[] entries: this is not an SMS.ru callback.")
    if len(entries) > mapping.MAX_ENTRIES:
        raise WebhookRejected(f"Too many entries in one callback ({len(entries)} > {mapping.MAX_ENTRIES}).")
    return entries


def _status_event(n: int, lines: list[str]) -> InboundEvent:
    if len(lines) < 3:
        raise WebhookRejected(f"Entry #{n} (sms_status) lacks the message id or the status code.")
    sms_id, raw_code = lines[1], lines[2]
    if not sms_id or len(sms_id) > 100 or not sms_id.isprintable() or " " in sms_id:
        raise WebhookRejected(f"Entry #{n} (sms_status) has no readable message id.")
    code = mapping.code_of(raw_code)
    if code is None:
        raise WebhookRejected(f"Entry #{n}: status code {raw_code[:20]!r} is not a number.")
    found = mapping.delivery(code)
    if found is None:
        raise WebhookRejected(f"Entry #{n}: unknown SMS.ru status code {code}.")
    status, reason = found
    return InboundEvent(event_key=mapping.status_event_key(sms_id, code), kind=STATUS,
                        payload={"provider_id": sms_id, "status": status, "error": reason})


class SmsruConnector(ChannelConnector):
    system = "smsru"
    title = _("SMS.ru")
    channel = "sms"
    adapter_class = SmsruChannel

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)

    def verify_webhook(self, connection: Connection, request: HttpRequest) -> None:
        """POST only; SMS.ru's ``hash`` checked when sent. Without one the unguessable connection
        key in the URL is the secret (SMS.ru's docs make no promise that every callback is signed)."""
        require_post(request)
        pairs = form_pairs(request)
        sent = next((value for key, value in pairs if key == mapping.CALLBACK_HASH), None)
        if sent is None:
            return
        api_id = str((connection.credentials or {}).get("api_id") or "")
        expected = hashlib.sha256((api_id + "".join(data_entries(pairs))).encode()).hexdigest()
        require_secret(expected, sent.strip().lower(), "Bad hash: the callback is not signed with this "
                                                       "connection's api_id.", status=403)

    def parse_webhook(self, connection: Connection, request: HttpRequest) -> WebhookParse:
        events: dict[str, InboundEvent] = {}
        for n, entry in enumerate(data_entries(form_pairs(request))):
            lines = [line.strip() for line in entry.replace("\r\n", "\n").split("\n")]
            if lines[0] != mapping.ENTRY_STATUS:
                continue  # a call-check notice or another service's: acknowledged, nothing to do
            event = _status_event(n, lines)
            events.setdefault(event.event_key, event)
        return WebhookParse(events=list(events.values()), response_body=mapping.CALLBACK_ANSWER)
