"""Bot and chat messages, stored once per (channel, chat, direction, message id)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from hub.models import Contact, DialogMessage


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
    if external_id:
        return DialogMessage.objects.get_or_create(
            channel=channel, chat_id=str(chat_id), direction=direction, external_id=str(external_id),
            defaults={"contact": contact, "text": text, "payload": payload or {},
                      "sent_at": sent_at or timezone.now()},
        )
    message = DialogMessage.objects.create(channel=channel, chat_id=str(chat_id), direction=direction, text=text,
                                           contact=contact, payload=payload or {}, sent_at=sent_at or timezone.now())
    return message, True
