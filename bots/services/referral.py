"""Invitations through the bot: a client who opens the bot with a friend's link
(``/start ref_<CODE>``) has the code remembered for the chat until the bot knows who they
are (after the phone step), then registered as the friend; a registered client gets their
own link from the menu."""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction

from bots.models import BotChat
from hub.models import Contact
from loyalty.models import ReferralProgram
from loyalty.services.ledger import program_default
from loyalty.services.referrals import referral_link, referral_register

log = logging.getLogger(__name__)

REF_START = re.compile(r"^/start\s+ref_([A-Za-z0-9]{4,16})\s*$")
REMEMBER_FOR = 30 * 24 * 3600  # a client may take weeks to share the phone


def _key(chat: BotChat) -> str:
    # The row's creation time too: a chat row made anew (another database, a test run) never
    # inherits a code remembered for an older row with the same id.
    return f"bots:referral:{chat.pk}:{chat.created_at.timestamp():.6f}"


def referral_remember(chat: BotChat, text: str) -> None:
    """Keep the code of a ``/start ref_<CODE>`` deep link for this chat."""
    match = REF_START.match(text.strip())
    if match is not None:
        cache.set(_key(chat), match.group(1).upper(), REMEMBER_FOR)


def referral_settle(chat: BotChat) -> None:
    """Once the chat's client is known: register them as the friend of the remembered code
    (the loyalty service checks for abuse and rewards), then forget the code."""
    if chat.contact is None:
        return
    code = cache.get(_key(chat))
    if not code:
        return
    key = _key(chat)
    transaction.on_commit(lambda: cache.delete(key))  # kept if the turn is rolled back: tried again next turn
    try:
        referral = referral_register(program_default(), chat.contact, code, device=f"{chat.channel}:{chat.user_id}")
    except ValidationError as exc:  # no active program, unknown code: the client just goes on
        log.info("bot chat %s: invitation not registered: %s", chat.pk, "; ".join(exc.messages))
    else:
        log.info("bot chat %s: referral %s (%s)", chat.pk, referral.pk, referral.status)


def invite_available() -> bool:
    return ReferralProgram.objects.filter(program__code="main", active=True).exists()


def invite_context(contact: Contact) -> dict[str, Any]:
    program = program_default()
    rules = ReferralProgram.objects.filter(program=program).first()
    return {"link": referral_link(program, contact),
            "friend_points": rules.friend_points if rules else 0,
            "referrer_points": rules.referrer_points if rules else 0,
            "first_purchase": bool(rules and rules.trigger == ReferralProgram.Trigger.FIRST_PURCHASE)}
