"""/hooks/<system>/<key>/: verify, parse, store in the Inbox, answer fast.

Processing happens in a task. Refused requests are kept in the Inbox as rejected, with
the raw body, and answered 4xx with the reason.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from hub.models import Connection
from hub.services.inbox import inbox_receive, inbox_reject, inbox_source
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


@csrf_exempt
def webhook_receive(request: HttpRequest, system: str, key: str) -> HttpResponse:
    connector = registry.get(system)
    connection = Connection.objects.filter(system=system, key=key, enabled=True).first()
    if connector is None or connection is None:
        raise Http404("Unknown webhook")
    source = inbox_source(connection)
    raw = connector.redact(request.body.decode("utf-8", errors="replace"), request)

    def reject(reason: str, status: int = 400) -> JsonResponse:
        inbox_reject(source=source, raw_body=raw, reason=reason, connection=connection, headers=_headers(request))
        log.info("webhook %s rejected (%s): %s", source, status, reason)
        return JsonResponse({"ok": False, "error": reason}, status=status)

    try:
        connector.verify_webhook(connection, request)
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
        with transaction.atomic():
            for event in parsed.events:
                _, new = inbox_receive(source=source, event_key=event.event_key, kind=event.kind,
                                       payload=event.payload, connection=connection, headers=_headers(request),
                                       raw_body=raw)
                created += int(new)
    except (DataError, IntegrityError) as exc:
        return reject(f"The payload cannot be stored: {type(exc).__name__}.")
    log.info("webhook %s: %d events, %d new", source, len(parsed.events), created)
    return _respond(parsed.response_body, parsed.response_status)

