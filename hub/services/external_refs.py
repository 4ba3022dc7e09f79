"""ExternalRef: our row ⇄ their id, and the fingerprint that suppresses echo."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from hub.models import Connection, ExternalRef


def fingerprint(values: Any) -> str:
    """Stable hash of the values exchanged, independent of key order."""
    blob = json.dumps(values, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


MEMO_SIZE = 20_000  # bounded: a backfill of millions of rows keeps a flat memory profile
_memo: ContextVar[OrderedDict[tuple[int, str, str], ExternalRef] | None] = ContextVar(
    "external_ref_memo", default=None)


@contextmanager
def external_ref_memo() -> Iterator[None]:
    """Remember refs for the length of a pull: a receipt's client, card and products are
    looked up once, not once per line. Only hits are kept; a stale hit (its row rolled
    back with a rejected record) makes callers see a missing row and recreate it."""
    token = _memo.set(OrderedDict())
    try:
        yield
    finally:
        _memo.reset(token)


def external_ref_find(connection: Connection, kind: str, external_id: str) -> ExternalRef | None:
    memo = _memo.get()
    key = (connection.pk, kind, str(external_id))
    if memo is not None and key in memo:
        memo.move_to_end(key)
        return memo[key]
    ref = ExternalRef.objects.filter(connection=connection, kind=kind, external_id=str(external_id)).first()
    if ref is not None:
        _remember(key, ref)
    return ref


def _remember(key: tuple[int, str, str], ref: ExternalRef) -> None:
    memo = _memo.get()
    if memo is None:
        return
    memo[key] = ref
    memo.move_to_end(key)
    if len(memo) > MEMO_SIZE:
        memo.popitem(last=False)


def external_ref_for_local(connection: Connection, kind: str, local_id: int) -> ExternalRef | None:
    return (
        ExternalRef.objects.filter(connection=connection, kind=kind, local_id=local_id)
        .order_by("-updated_at")
        .first()
    )


def external_ref_link(
    connection: Connection, kind: str, local_id: int, external_id: str, values: Any = None,
    digest: str | None = None,
) -> ExternalRef:
    """Create or move the mapping; record ``digest`` or the fingerprint of ``values``."""
    defaults: dict[str, Any] = {"local_id": local_id}
    if digest is None and values is not None:
        digest = fingerprint(values)
    if digest is not None:
        defaults["fingerprint"] = digest
    ref, _ = ExternalRef.objects.update_or_create(
        connection=connection, kind=kind, external_id=str(external_id), defaults=defaults
    )
    _remember((connection.pk, kind, str(external_id)), ref)
    return ref


def external_refs_link_many(connection: Connection, links: list[tuple[str, int, str, str]]) -> None:
    """Bulk form of external_ref_link for a pushed batch: (kind, local id, external id, digest)."""
    latest = {(kind, str(ext)): (local, digest) for kind, local, ext, digest in links}
    ExternalRef.objects.bulk_create(
        [ExternalRef(connection=connection, kind=kind, local_id=local, external_id=ext, fingerprint=digest)
         for (kind, ext), (local, digest) in latest.items()],
        update_conflicts=True, unique_fields=["connection", "kind", "external_id"],
        update_fields=["local_id", "fingerprint", "updated_at"],
    )


def external_ref_is_echo(connection: Connection, kind: str, external_id: str, values: Any) -> bool:
    """True when they only report back what we last wrote to / read from them."""
    ref = external_ref_find(connection, kind, external_id)
    return bool(ref and ref.fingerprint and ref.fingerprint == fingerprint(values))
