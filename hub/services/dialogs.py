"""Bot and chat messages, stored once per (channel, chat, direction, message id), and copied to
the contact's CRM timeline in bursts (lines join the contact's note that is still waiting, so
a chatty client makes one note per ``HUB_DIALOG_NOTE_DELAY``, not one per line, and does not eat
the CRM's rate limit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hub.models import Contact, DialogMessage, Outbox
from hub.services.outbox import outbox_publish

NOTE = "dialog.note"


def dialog_message_record(
    *,
    channel: str,
    chat_id: str,
    direction: str,
    text: str,
    contact: Contact | None = None,
    external_id: str = "",
    payload: dict[str, Any] | None = None,
    sent_at: dt.datetime | None = None,
) -> tuple[DialogMessage, bool]:
    with transaction.atomic():
        if external_id:
            message, created = DialogMessage.objects.get_or_create(
                channel=channel, chat_id=str(chat_id), direction=direction, external_id=str(external_id),
                defaults={"contact": contact, "text": text, "payload": payload or {},
                          "sent_at": sent_at or timezone.now()},
            )
        else:
            message, created = DialogMessage.objects.create(
                channel=channel, chat_id=str(chat_id), direction=direction, text=text, contact=contact,
                payload=payload or {}, sent_at=sent_at or timezone.now()), True
        if created and message.contact_id:
            _to_timeline(message.contact_id, [message.pk])
    return message, created


def dialog_messages_attach(channel: str, chat_id: str, contact: Contact) -> int:
    """A chat's earlier messages (before the client said who they are) now belong to ``contact``
    and go to its timeline too."""
    with transaction.atomic():
        ids = list(DialogMessage.objects.filter(channel=channel, chat_id=str(chat_id), contact__isnull=True)
                   .values_list("pk", flat=True))
        if ids:
            DialogMessage.objects.filter(pk__in=ids).update(contact=contact)
            _to_timeline(contact.pk, ids)
    return len(ids)


def _to_timeline(contact_id: int, message_ids: list[int]) -> None:
    """Lines join the contact's note still waiting to go (one per CRM); only when none waits
    does a new one start, held back so that what the client writes next joins it."""
    waiting = list(Outbox.objects.select_for_update(skip_locked=True)  # a row being sent is left alone
                   .filter(action=NOTE, target_kind="contact", target_id=contact_id, status=Outbox.Status.PENDING))
    for row in waiting:
        row.payload = {**row.payload, "messages": [*row.payload.get("messages", []), *message_ids]}
        row.save(update_fields=["payload"])
    if not waiting:
        delay = dt.timedelta(seconds=settings.HUB_DIALOG_NOTE_DELAY)
        outbox_publish(NOTE, "contact", contact_id, {"messages": message_ids}, not_before=timezone.now() + delay)


def dialog_note_text(message_ids: list[int], tz: dt.tzinfo | None = None) -> str:
    """The conversation lines as a manager reads them in the CRM timeline (times in ``tz``)."""
    lines = []
    for message in DialogMessage.objects.filter(pk__in=message_ids).order_by("sent_at", "pk"):
        who = "Клиент" if message.direction == DialogMessage.Direction.IN else "Бот"
        local = timezone.localtime(message.sent_at, tz)
        lines.append(f"[{local:%d.%m %H:%M}] {who} ({message.channel}): {message.text}")
    return "\n".join(lines)
