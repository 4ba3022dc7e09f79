"""Composing and queueing messages: for each recipient the first reachable channel of the
campaign, the text rendered for them, one Message and one outbox row to the channel's
provider, all in the caller's transaction. A key already used (the same person and occasion)
adds nothing, so every run and every trigger may safely happen twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.utils import timezone

from hub.models import Connection, Contact, Outbox
from loyalty.models import OfferExposure
from loyalty.selectors import balances_of
from loyalty.services.offers import offer_expose_many, offer_group
from mailings.models import Campaign, CampaignRun, Channel, Message
from mailings.ports import SEND
from mailings.services.reach import Reach, channel_connections, reach_many
from mailings.services.texts import text_render

BATCH = 1000
#: how many inline buttons each channel shows under a message; more (NPS's eleven scores in VK)
#: are left out: the link in the text and a reply with the number still answer
BUTTON_LIMITS = {Channel.TELEGRAM: 100, Channel.VK: 10}
OPTOUT_SALT = "mailings.optout"


@dataclass
class Recipient:
    contact_id: int
    key: str  # one message per key, ever
    context: dict[str, Any] = field(default_factory=dict)
    buttons: list[list[dict[str, str]]] = field(default_factory=list)  # [[{"label", "data"}]]
    people: list[int] = field(default_factory=list)  # whom a campaign bonus is for (default: the recipient)


@dataclass
class Queued:
    messages: list[Message] = field(default_factory=list)
    unreachable: int = 0
    repeated: int = 0  # keys already used: nothing new
    held_back: list[int] = field(default_factory=list)  # the campaign's control group: reachable, not messaged


def optout_link(contact_id: int) -> str:
    token = signing.Signer(salt=OPTOUT_SALT).sign(str(contact_id))
    return f"{settings.HUB_PUBLIC_URL}/m/unsubscribe/{token}/"


def optout_contact(token: str) -> int | None:
    try:
        return int(signing.Signer(salt=OPTOUT_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def contact_context(contact: Contact, balance: Decimal | None, today: dt.date) -> dict[str, Any]:
    """The variables every template may use about its recipient."""
    last_visit = max((d for d in (contact.last_pass_at, contact.last_purchase_at) if d), default=None)
    return {
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "name": " ".join(p for p in (contact.first_name, contact.middle_name) if p) or contact.full_name,
        "bonus_balance": balance if balance is not None else Decimal(0),
        "days_since_visit": (today - last_visit.date()).days if last_visit else "",
        "optout_link": optout_link(contact.pk),
    }


def campaign_is_offer(campaign: Campaign) -> bool:
    """A marketing campaign is an offer whose results are measured; a service notification
    (booking confirmed) or an NPS survey is not, and is never held back."""
    return campaign.marketing and campaign.kind != Campaign.Kind.NPS


def _exposures_record(campaign: Campaign, contact_ids: list[int], group: str, at: dt.datetime) -> None:
    """Who met the campaign and on which side, first time only, in batches (a mailing may reach
    a hundred thousand clients)."""
    ids = list(dict.fromkeys(contact_ids))
    for start in range(0, len(ids), BATCH):
        offer_expose_many(OfferExposure.Offer.CAMPAIGN, campaign.pk, ids[start:start + BATCH], group, at)


def messages_queue(campaign: Campaign, recipients: Iterable[Recipient], *, run: CampaignRun | None = None,
                   today: dt.date | None = None, on_reachable: Callable[[list[Recipient]], None] | None = None,
                   now: dt.datetime | None = None) -> Queued:
    """Queue one message per new key. Recipients sharing a key (both parents of one child)
    are alternatives: the first reachable one gets it. A reachable recipient in the campaign's
    control group (``offer_group``) takes the key but gets no message (nor a bonus): they are
    recorded as held back, the others as offered, to measure the campaign against.
    ``on_reachable`` sees exactly the recipients about to be messaged, before their texts are
    rendered (a bonus granted there goes only to people who hear about it, and shows in their
    balance)."""
    today = today or timezone.localdate()
    now = now or timezone.now()
    result = Queued()
    pending = list(recipients)
    if not pending:
        return result
    used = set()
    keys = [r.key for r in pending]
    for start in range(0, len(keys), BATCH):
        used |= set(Message.objects.filter(key__in=keys[start:start + BATCH]).values_list("key", flat=True))
    fresh = [r for r in pending if r.key not in used]
    result.repeated = len({r.key for r in pending if r.key in used})
    if not fresh:
        return result
    reach = reach_many([r.contact_id for r in fresh], campaign.channels, marketing=campaign.marketing,
                       connections=channel_connections())
    offer = campaign_is_offer(campaign)
    holdout = campaign.holdout_percent if offer else 0
    chosen: list[Recipient] = []
    for recipient in fresh:
        if recipient.key not in used and recipient.contact_id in reach:
            used.add(recipient.key)
            if offer_group(OfferExposure.Offer.CAMPAIGN, campaign.pk, recipient.contact_id,
                           holdout) == OfferExposure.Group.CONTROL:
                result.held_back.append(recipient.contact_id)
            else:
                chosen.append(recipient)
    result.unreachable = len({r.key for r in fresh} - used)
    if result.held_back:
        _exposures_record(campaign, result.held_back, OfferExposure.Group.CONTROL, now)
    if on_reachable is not None and chosen:
        on_reachable(chosen)
    ids = list(dict.fromkeys(r.contact_id for r in chosen))
    needs_balance = "bonus_balance" in campaign.template.body
    contacts: dict[int, Contact] = {}
    balances: dict[int, Decimal] = {}
    for start in range(0, len(ids), BATCH):
        part = ids[start:start + BATCH]
        contacts.update(Contact.objects.in_bulk(part))
        if needs_balance:
            balances.update(balances_of(part))
    for recipient in chosen:
        contact = contacts[recipient.contact_id]
        context = contact_context(contact, balances.get(contact.pk), today) | recipient.context
        result.messages.append(_message(campaign, run, contact.pk, recipient.key, reach[contact.pk], context,
                                        recipient.buttons))
    _store(result.messages)
    if offer:
        _exposures_record(campaign, [m.contact_id for m in result.messages], OfferExposure.Group.OFFERED, now)
    return result


def _message(campaign: Campaign, run: CampaignRun | None, contact_id: int, key: str, where: Reach,
             context: dict[str, Any], buttons: list[list[dict[str, str]]]) -> Message:
    template = campaign.template
    return Message(campaign=campaign, run=run, contact_id=contact_id, key=key, channel=where.channel,
                   connection=where.connection, address=where.address, template=template,
                   template_version=template.version,
                   subject=text_render(template.subject, context)[:200] if template.subject else "",
                   text=text_render(template.body, context),
                   buttons=_buttons_for(where.channel, buttons))


def _buttons_for(channel: str, buttons: list[list[dict[str, str]]]) -> list[list[dict[str, str]]]:
    fits = sum(len(row) for row in buttons or []) <= BUTTON_LIMITS.get(channel, 0)
    return buttons if buttons and fits else []


def _store(messages: list[Message]) -> None:
    """Messages and their outbox rows, in batches (ids come back from the insert)."""
    now = timezone.now()  # the same clock as the drain's (a field default would read its own)
    for start in range(0, len(messages), BATCH):
        part = Message.objects.bulk_create(messages[start:start + BATCH], batch_size=BATCH)
        Outbox.objects.bulk_create(
            [Outbox(connection_id=m.connection_id, action=SEND, target_kind="message", target_id=m.pk,
                    created_at=now, next_attempt_at=now) for m in part],
            batch_size=BATCH)


def message_fall_back(message: Message) -> Message | None:
    """The same message on the campaign's next channel the client can be reached on, after
    this one failed for good; None when no channel is left."""
    campaign = message.campaign
    if campaign is None or message.contact_id is None or message.channel not in campaign.channels:
        return None
    tried = {message.channel}
    earlier = message
    while earlier.fallback_of_id:
        earlier = Message.objects.get(pk=earlier.fallback_of_id)
        tried.add(earlier.channel)
    rest = campaign.channels[campaign.channels.index(message.channel) + 1:]
    where = reach_many([message.contact_id], rest, marketing=campaign.marketing,
                       skip={message.contact_id: tried}).get(message.contact_id)
    if where is None:
        return None
    follow = Message(campaign=campaign, run=message.run, contact_id=message.contact_id,
                     key=f"{message.key}>{where.channel}"[:160], channel=where.channel, connection=where.connection,
                     address=where.address, template=message.template, template_version=message.template_version,
                     subject=message.subject, text=message.text, fallback_of=message,
                     buttons=_buttons_for(where.channel, message.buttons))
    if Message.objects.filter(key=follow.key).exists():
        return None
    _store([follow])
    return follow


def message_reply(connection: Connection, channel: str, address: str, text: str, *, key: str,
                  contact: Contact | None = None, buttons: list[list[dict[str, str]]] | None = None) -> Message | None:
    """An answer to what a client wrote (STOP, an NPS score, a bot's turn): a service message,
    at once; the same ``key`` again is not sent twice."""
    if Message.objects.filter(key=key).exists():
        return None
    reply = Message(contact=contact, key=key[:160], channel=channel, connection=connection, address=address,
                    text=text, buttons=_buttons_for(channel, buttons or []))
    _store([reply])
    return reply
