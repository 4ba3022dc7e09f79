"""Who can be reached where: a client's address on each channel, the provider connection
for it, and marketing consent for it. Campaigns try their channels in order and take the
first that has all three.

Marketing consent given in a messenger or by SMS covers that channel; consent given on a web
form, at the cashdesk or recorded by staff (a signed form listing the channels) covers all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from hub.models import Connection, ConsentRecord, Contact, ContactIdentity
from hub.models.consent import Purpose
from hub.sync import registry
from mailings.models import Channel

CHUNK = 5000
ADDRESS_KIND = {Channel.TELEGRAM: ContactIdentity.Kind.TELEGRAM, Channel.VK: ContactIdentity.Kind.VK,
                Channel.WHATSAPP: ContactIdentity.Kind.PHONE, Channel.SMS: ContactIdentity.Kind.PHONE,
                Channel.EMAIL: ContactIdentity.Kind.EMAIL}
CONSENT_COVERS_ALL = {ConsentRecord.Channel.WEB, ConsentRecord.Channel.CASHDESK, ConsentRecord.Channel.ADMIN}
#: the consent channel a mailings channel is expressed in (for consents and withdrawals)
CONSENT_CHANNEL = {Channel.TELEGRAM: ConsentRecord.Channel.TELEGRAM, Channel.VK: ConsentRecord.Channel.VK,
                   Channel.WHATSAPP: ConsentRecord.Channel.WHATSAPP, Channel.SMS: ConsentRecord.Channel.SMS,
                   Channel.EMAIL: ConsentRecord.Channel.WEB}


@dataclass(frozen=True)
class Reach:
    channel: str
    connection: Connection
    address: str


def channel_connections() -> dict[str, Connection]:
    """The provider each channel sends through: the oldest enabled connection of a system
    that serves it."""
    found: dict[str, Connection] = {}
    for channel in Channel.values:
        systems = registry.systems_for_channel(channel)
        connection = Connection.objects.filter(enabled=True, system__in=systems).order_by("pk").first() \
            if systems else None
        if connection is not None:
            found[channel] = connection
    return found


def _addresses(ids: list[int]) -> dict[int, dict[str, str]]:
    """contact → {identity kind: value}: the primary phone and e-mail first, then identities."""
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for pk, phone, email in Contact.objects.filter(pk__in=ids).values_list("pk", "phone", "email"):
        if phone:
            found[pk][ContactIdentity.Kind.PHONE] = phone
        if email:
            found[pk][ContactIdentity.Kind.EMAIL] = email
    for pk, kind, value in (ContactIdentity.objects.filter(contact_id__in=ids).order_by("pk")
                            .values_list("contact_id", "kind", "value")):
        found[pk].setdefault(kind, value)
    return found


def _consented(ids: list[int]) -> dict[int, set[str]]:
    """contact → the channels it has active marketing consent for."""
    found: dict[int, set[str]] = defaultdict(set)
    rows = ConsentRecord.objects.filter(contact_id__in=ids, purpose=Purpose.MARKETING, withdrawn_at__isnull=True)
    for pk, where in rows.values_list("contact_id", "channel"):
        found[pk] |= set(Channel.values) if where in CONSENT_COVERS_ALL else {
            c for c, consent in CONSENT_CHANNEL.items() if consent == where and c != Channel.EMAIL}
    return found


def reach_many(contact_ids: Iterable[int], channels: list[str], *, marketing: bool,
               connections: dict[str, Connection] | None = None,
               skip: dict[int, set[str]] | None = None) -> dict[int, Reach]:
    """The first channel (in ``channels`` order) each contact can be reached on; contacts not
    reachable at all are absent. ``skip``: channels already tried per contact."""
    connections = channel_connections() if connections is None else connections
    usable = [c for c in channels if c in connections]
    ids = list(dict.fromkeys(contact_ids))
    result: dict[int, Reach] = {}
    if not usable:
        return result
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        addresses = _addresses(part)
        consent = _consented(part) if marketing else {}
        for pk in part:
            for channel in usable:
                if skip and channel in skip.get(pk, ()):
                    continue
                if marketing and channel not in consent.get(pk, ()):
                    continue
                address = addresses.get(pk, {}).get(ADDRESS_KIND[channel])
                if address:
                    result[pk] = Reach(channel, connections[channel], address)
                    break
    return result


def may_message(contact_id: int, channel: str) -> bool:
    """Marketing consent for this channel, now (checked again just before sending)."""
    return channel in _consented([contact_id]).get(contact_id, set())
