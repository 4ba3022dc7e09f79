"""Failed messages sent again by an operator (after fixing a provider's credentials, topping
up an SMS balance…)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from hub.models import Outbox
from mailings.models import Message
from mailings.ports import SEND


@transaction.atomic
def messages_resend(ids: Iterable[int]) -> int:
    """Failed messages back in the queue, each with a fresh outbox row (the old one is dead).
    One that already went out on the next channel is not sent again."""
    replaced = Message.objects.filter(fallback_of__isnull=False).values("fallback_of_id")
    rows = list(Message.objects.select_for_update().filter(pk__in=list(ids), status=Message.Status.FAILED,
                                                           connection__isnull=False).exclude(pk__in=replaced))
    for message in rows:
        message.status, message.error = Message.Status.QUEUED, ""
        message.save(update_fields=["status", "error", "updated_at"])
    now = timezone.now()
    Outbox.objects.bulk_create([Outbox(connection_id=m.connection_id, action=SEND, target_kind="message",
                                       target_id=m.pk, created_at=now, next_attempt_at=now) for m in rows])
    return len(rows)
