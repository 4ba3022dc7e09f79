"""Sending one message and what comes back: checked again at the moment of sending (consent,
opt-out, quiet hours), recorded when sent, failed or refused (then the campaign's next channel
is tried), delivery statuses from providers, and what clients write back (STOP, NPS answers)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hub.models import Connection, Contact, ContactIdentity
from hub.models.consent import Purpose
from hub.models.dialogs import DialogMessage
from hub.services.consent import consent_withdraw
from hub.services.contacts import contact_by_identity
from hub.services.dialogs import dialog_message_record
from hub.services.normalize import email_normalize, phone_normalize
from mailings.models import Campaign, Message
from mailings.ports import DELIVERED, FAILED, READ, SENT, Button, OutgoingMessage
from mailings.services.nps import nps_reply
from mailings.services.outgoing import message_fall_back, message_reply
from mailings.services.reach import CONSENT_CHANNEL, may_message

log = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "СТОП", "ОТПИСАТЬСЯ", "ОТПИСКА", "UNSUBSCRIBE", "ОТПИШИТЕ"}
STOPPED_TEXT = "Вы отписались от рассылок. Вернуть их можно, дав согласие снова в боте, на сайте или на кассе."
_RANK = {Message.Status.QUEUED: 0, Message.Status.SENT: 1, Message.Status.DELIVERED: 2, Message.Status.READ: 3}
_STATUS = {SENT: Message.Status.SENT, DELIVERED: Message.Status.DELIVERED, READ: Message.Status.READ}


@dataclass(frozen=True)
class Hold:
    """Not now: wait ``retry_after`` seconds (quiet hours), or never (None: not to be sent)."""

    reason: str
    retry_after: float | None = None


def quiet_wait(campaign: Campaign, now: dt.datetime) -> float | None:
    """Seconds until the campaign's quiet hours end, or None outside them (venue time)."""
    start, end = campaign.quiet_from, campaign.quiet_to
    if start == end:
        return None
    local = now.astimezone(ZoneInfo(campaign.time_zone))
    moment = local.time()
    quiet = (start <= moment < end) if start < end else (moment >= start or moment < end)
    if not quiet:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += dt.timedelta(days=1)
    return (ends - local).total_seconds()


def message_prepare(message_id: int, now: dt.datetime | None = None) -> OutgoingMessage | Hold:
    """What to send now, or why not: a marketing message whose client withdrew consent since
    it was queued is not sent at all; one due in quiet hours waits for their end."""
    message = Message.objects.select_related("campaign").filter(pk=message_id).first()
    if message is None:
        return Hold("the message no longer exists")
    if message.status != Message.Status.QUEUED:
        return Hold(f"already {message.status}")
    campaign = message.campaign
    if campaign is not None and campaign.marketing and message.contact_id is not None \
            and not may_message(message.contact_id, message.channel):
        Message.objects.filter(pk=message.pk, status=Message.Status.QUEUED).update(
            status=Message.Status.SKIPPED, error="Нет согласия на рассылки в этом канале (отписался?).")
        return Hold("no marketing consent")
    if campaign is not None:
        wait = quiet_wait(campaign, now or timezone.now())
        if wait is not None:
            return Hold(f"тихие часы до {campaign.quiet_to:%H:%M}", retry_after=wait)
    buttons = tuple(tuple(Button(label=str(b.get("label", "")), data=str(b.get("data", "")),
                                        request=str(b.get("request", ""))) for b in row)
                    for row in message.buttons or [])
    return OutgoingMessage(key=f"hub-msg-{message.pk}", address=message.address, text=message.text,
                           subject=message.subject, buttons=buttons)


def message_sent(message_id: int, provider_id: str) -> None:
    Message.objects.filter(pk=message_id, status=Message.Status.QUEUED).update(
        status=Message.Status.SENT, provider_id=provider_id[:128], sent_at=timezone.now(), error="",
        attempts=F("attempts") + 1)


@transaction.atomic
def _fail(message_id: int, error: str) -> None:
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    if message is None or message.status not in (Message.Status.QUEUED, Message.Status.SENT):
        return  # already failed, skipped, or delivered meanwhile: nothing to send again
    message.status, message.error = Message.Status.FAILED, error[:4000]
    message.save(update_fields=["status", "error", "updated_at"])
    follow = message_fall_back(message)
    if follow is not None:
        log.info("message %s failed on %s; sent again as %s on %s", message.pk, message.channel, follow.pk,
                 follow.channel)


def message_refused(message_id: int, reason: str) -> None:
    """The provider will never deliver it there: the next channel, if any."""
    Message.objects.filter(pk=message_id).update(attempts=F("attempts") + 1)
    _fail(message_id, reason)


def message_failed(message_id: int, error: str, *, final: bool) -> None:
    """A transport failure; retried by the outbox until the last attempt."""
    Message.objects.filter(pk=message_id).update(attempts=F("attempts") + 1, error=error[:4000])
    if final:
        _fail(message_id, error)


def message_status_apply(connection: Connection | None, provider_id: str, status: str, error: str = "") -> Any:
    """A delivery report. Reports arrive late, twice and out of order: a status never goes
    back (read stays read), and a failure after delivery is ignored."""
    message = Message.objects.filter(connection=connection, provider_id=provider_id).first()
    if message is None:
        # the report may overtake the recording of our own send: fail, the inbox retries it
        raise LookupError(f"no message with provider id {provider_id!r} (yet)")
    if status == FAILED:
        if message.status in (Message.Status.QUEUED, Message.Status.SENT):
            _fail(message.pk, error or "Провайдер сообщил, что сообщение не доставлено.")
        return {"message": message.pk, "status": FAILED}
    new = _STATUS.get(status)
    if new is None:
        return {"message": message.pk, "ignored": status}
    lower = [status for status, rank in _RANK.items() if rank < _RANK[new]]
    fields: dict[str, Any] = {"status": new}
    if new in (Message.Status.DELIVERED, Message.Status.READ) and message.delivered_at is None:
        fields["delivered_at"] = timezone.now()
    Message.objects.filter(pk=message.pk, status__in=lower).update(**fields)  # a race cannot move it back
    return {"message": message.pk, "status": status}


def _sender(address_kind: str, address: str) -> tuple[str, Contact | None]:
    """The normalised address and the contact it belongs to (if known)."""
    value = address.strip()
    try:
        if address_kind == ContactIdentity.Kind.PHONE:
            value = phone_normalize(value)
        elif address_kind == ContactIdentity.Kind.EMAIL:
            value = email_normalize(value)
    except Exception:  # noqa: BLE001 - an unreadable sender is kept as given
        return value, None
    return value, contact_by_identity(address_kind, value)


def message_incoming(connection: Connection | None, channel: str, *, address_kind: str, address: str, text: str,
                     data: str = "", provider_id: str = "", surveys: bool = True) -> Any:
    """A client wrote (or pressed a button): kept in the dialog history; STOP withdraws marketing
    consent at once; a score or a button answers their open NPS survey (unless ``surveys`` is
    off: a bot is waiting for this answer itself)."""
    value, contact = _sender(address_kind, address)
    dialog_message_record(channel=channel, chat_id=value, direction=DialogMessage.Direction.IN, text=text or data,
                          contact=contact, external_id=provider_id, payload={"data": data} if data else {})
    word = re.sub(r"[^\w]", "", text or "").upper()
    answer = ""
    outcome: dict[str, Any] = {"contact": contact.pk if contact else None}
    if word in STOP_WORDS:
        where = CONSENT_CHANNEL.get(channel, "")
        withdrawn = consent_withdraw(purpose=Purpose.MARKETING, channel=where, contact=contact) if contact else \
            consent_withdraw(purpose=Purpose.MARKETING, channel=where, subject_kind=address_kind, subject_id=value)
        outcome["opted_out"] = withdrawn
        answer = STOPPED_TEXT
    else:
        answer = nps_reply(contact, channel, text=text, data=data) if surveys and (contact or data) else ""
        outcome["nps"] = bool(answer)
    if answer and connection is not None:
        message_reply(connection, channel, address, answer, contact=contact,
                      key=f"reply:{connection.pk}:{provider_id or timezone.now().timestamp()}")
    return outcome
