"""Creates whose answer was lost. A create is remembered (an ExternalRef of kind
``pending:<kind>``) before it is sent and forgotten once its id is linked; one still remembered
when the same row is created again — a retry after a timeout, a 502/503 that came after the
work, a worker killed mid-request, or another row of the same client — may already exist in
the CRM, so it is looked up there first. A first attempt costs two small DB writes and no
request to the CRM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q

from hub.models import Connection, ExternalRef

PENDING = "pending:"
CLOCK_SLACK = dt.timedelta(minutes=5)  # their clock against ours: what "made since" allows for

Key = tuple[str, int]  # (ref kind, local id)


def _rows(connection: Connection, keys: Iterable[Key]) -> Q | None:
    by_kind: dict[str, set[int]] = {}
    for kind, local_id in keys:
        by_kind.setdefault(PENDING + kind, set()).add(local_id)
    if not by_kind:
        return None
    query = Q()
    for kind, ids in by_kind.items():
        query |= Q(kind=kind, local_id__in=ids)
    return Q(connection=connection) & query


def creates_unconfirmed(connection: Connection, keys: Iterable[Key]) -> dict[Key, dt.datetime]:
    """The keys whose create was sent and never confirmed → when it was sent (less the slack)."""
    query = _rows(connection, keys)
    if query is None:
        return {}
    return {(kind.removeprefix(PENDING), local_id): sent - CLOCK_SLACK for kind, local_id, sent in
            ExternalRef.objects.filter(query).values_list("kind", "local_id", "updated_at")}


def creates_sending(connection: Connection, keys: Iterable[Key]) -> None:
    """Remember, before sending, that these may exist in the CRM from now on. An earlier mark is
    kept as it is: a lookup that found nothing may only have run before the CRM's search caught
    up, so later lookups must still cover the first create's time."""
    rows = [ExternalRef(connection=connection, kind=PENDING + kind, local_id=local_id, external_id=str(local_id))
            for kind, local_id in dict.fromkeys(keys)]
    if rows:
        ExternalRef.objects.bulk_create(rows, ignore_conflicts=True)


def creates_confirmed(connection: Connection, keys: Iterable[Key]) -> None:
    """Their ids are linked: nothing left to look for."""
    query = _rows(connection, keys)
    if query is not None:
        ExternalRef.objects.filter(query).delete()


def candidates_claim(connection: Connection, kinds: Iterable[str], found: dict[Key, list[str]]) -> dict[Key, str]:
    """Each key gets the oldest of its candidates that no other hub row is linked to (and that no
    other key took first): two identical passes a minute apart find two deals, one each."""
    wanted = {ext for ids in found.values() for ext in ids}
    owners: dict[str, set[Key]] = {}
    for kind, local_id, ext in ExternalRef.objects.filter(connection=connection, kind__in=list(kinds),
                                                          external_id__in=wanted).values_list(
            "kind", "local_id", "external_id"):
        owners.setdefault(ext, set()).add((kind, local_id))
    claimed: dict[Key, str] = {}
    taken: set[str] = set()
    for key, ids in found.items():
        for ext in ids:
            if ext not in taken and not (owners.get(ext, set()) - {key}):
                claimed[key] = ext
                taken.add(ext)
                break
    return claimed
