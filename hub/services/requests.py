"""Client requests (a lead from a form, "contact a manager" from a bot): stored once per
source event and handed to the CRM through the outbox."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from hub.models import ClientRequest, Connection, Contact
from hub.services.outbox import outbox_publish

CREATED = "request.created"


def client_request_create(*, kind: str, source: str, key: str, contact: Contact | None = None,
                          title: str = "", text: str = "", payload: dict[str, Any] | None = None,
                          origin: Connection | None = None) -> tuple[ClientRequest, bool]:
    """The request for ``key``, created (and queued for the CRM) the first time only: a form
    or a bot update delivered twice makes one deal or to-do, not two."""
    existing = ClientRequest.objects.filter(key=key[:160]).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            request = ClientRequest.objects.create(kind=kind, key=key[:160], contact=contact, source=source,
                                                   origin=origin, title=title[:255], text=text,
                                                   payload=payload or {})
            outbox_publish(CREATED, "client_request", request.pk, {"id": request.pk, "kind": kind}, origin=origin)
    except IntegrityError:  # the same event processed at the same moment elsewhere
        return ClientRequest.objects.get(key=key[:160]), False
    return request, True
