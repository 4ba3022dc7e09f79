"""/hooks/<system>/<key>/: verify, parse, store in the Inbox, answer fast.

Processing happens in a task. Refused requests are kept in the Inbox as rejected, with
the raw body, and answered 4xx with the reason.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import DataError, IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from connectors.base.webhooks import webhook_connection
from hub.models import Connection
from hub.services.inbox import RAW_BODY_LIMIT, inbox_receive, inbox_reject, inbox_source
from hub.sync import registry
from hub.sync.errors import WebhookRejected

log = logging.getLogger(__name__)

_KEPT_HEADERS = ("CONTENT_TYPE", "HTTP_USER_AGENT", "HTTP_X_REQUEST_ID", "REMOTE_ADDR")


def _headers(request: HttpRequest) -> dict[str, str]:
    return {k: str(request.META[k])[:500] for k in _KEPT_HEADERS if k in request.META}


def _respond(body: object, status: int) -> HttpResponse:
    if body is None:
        return JsonResponse({"ok": True}, status=status)
    if isinstance(body, str):
        return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    return JsonResponse(body, status=status, safe=False)


def _too_big(request: HttpRequest, connection: Connection, source: str) -> JsonResponse:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 with the limit, kept as rejected. The body
    itself is not kept (it could not be redacted); its size and a hash of its start key the row."""
    size = request.META.get("CONTENT_LENGTH", "?")
    reason = f"Body is over the {settings.DATA_UPLOAD_MAX_MEMORY_SIZE}-byte limit ({size} bytes)."
    head = request.read(RAW_BODY_LIMIT)
    inbox_reject(source=source, raw_body=f"[{size} bytes, over the limit: not kept]", reason=reason,
                 connection=connection, headers=_headers(request),
                 event_key=f"rejected:too-big:{size}:{hashlib.sha256(head).hexdigest()}")
    log.info("webhook %s rejected (413): %s", source, reason)
    return JsonResponse({"ok": False, "error": reason}, status=413)


def _verified(connector: Any, connection: Connection, cached: bool, request: HttpRequest) -> Connection:
    """The connection the request passes verification with. A refusal against the worker's copy
    is checked again against the database: a secret rotated a moment ago is not refused."""
    try:
        connector.verify_webhook(connection, request)
    except WebhookRejected:
        fresh = webhook_connection(connection.system, connection.key, fresh=True)[0] if cached else None
        if fresh is None:
            raise
        connector.verify_webhook(fresh, request)
        return fresh
    return connection


@csrf_exempt
def webhook_receive(request: HttpRequest, system: str, key: str) -> HttpResponse:
    try:
        return _receive(request, system, key)
    except IntegrityError:
        # The worker's copy of a connection deleted in another process: nothing can be stored
        # against it, not even the refusal. Unknown now, as for any other key.
        if not Connection.objects.filter(system=system, key=key, enabled=True).exists():
            raise Http404("Unknown webhook") from None
        raise


def _receive(request: HttpRequest, system: str, key: str) -> HttpResponse:
    connector = registry.get(system)
    connection, cached = webhook_connection(system, key) if connector is not None else (None, False)
    if connector is None or connection is None:
        raise Http404("Unknown webhook")
    source = inbox_source(connection)
    try:
        request.body  # noqa: B018 - read once here, so an oversized body is a 413, not a bare 400
    except RequestDataTooBig:
        return _too_big(request, connection, source)
    raw = connector.redact(request.body.decode("utf-8", errors="replace"), request)

    def reject(reason: str, status: int = 400) -> JsonResponse:
        inbox_reject(source=source, raw_body=raw, reason=reason, connection=connection, headers=_headers(request))
        log.info("webhook %s rejected (%s): %s", source, status, reason)
        return JsonResponse({"ok": False, "error": reason}, status=status)

    try:
        connection = _verified(connector, connection, cached, request)
        parsed = connector.parse_webhook(connection, request)
    except WebhookRejected as exc:
        return reject(exc.reason, exc.status)
    except ValidationError as exc:
        return reject("; ".join(exc.messages))
    except Exception:  # a connector bug: keep the request, tell the sender, page the engineer
        log.exception("webhook %s: parser crashed", source)
        return reject("The request could not be read; it was kept for investigation.")
    created = 0
    try:
        # One event: its INSERT commits by itself (no BEGIN, SAVEPOINT, COMMIT round trips).
        # Several: all are stored or none.
        with transaction.atomic() if len(parsed.events) > 1 else nullcontext():
            for event in parsed.events:
                _, new = inbox_receive(source=source, event_key=event.event_key, kind=event.kind,
                                       payload=event.payload, connection=connection, headers=_headers(request),
                                       raw_body=raw)
                created += int(new)
    except (DataError, IntegrityError) as exc:
        if not Connection.objects.filter(pk=connection.pk, enabled=True).exists():
            raise Http404("Unknown webhook") from exc  # deleted in another process since it was cached
        return reject(f"The payload cannot be stored: {type(exc).__name__}.")
    log.debug("webhook %s: %d events, %d new", source, len(parsed.events), created)  # the row is the record
    return _respond(parsed.response_body, parsed.response_status)

