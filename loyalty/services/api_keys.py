"""Keys for tills and sites: shown once when made, stored as a hash, found by their prefix."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.utils import timezone

from loyalty.models import ApiKey, Program


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_issue(key: ApiKey) -> str:
    """Give ``key`` a new secret and return it (the only time it is seen in clear)."""
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exclude(pk=key.pk).exists():
        prefix = secrets.token_hex(4)
    secret = f"{prefix}.{secrets.token_urlsafe(24)}"
    key.prefix, key.key_hash = prefix, _hash(secret)
    key.save()
    return secret


def api_key_create(name: str, program: Program, **fields: object) -> tuple[ApiKey, str]:
    key = ApiKey(name=name, program=program, **fields)
    return key, api_key_issue(key)


def api_key_check(secret: str) -> ApiKey | None:
    prefix = secret.split(".", 1)[0]
    key = ApiKey.objects.select_related("program", "service_point").filter(prefix=prefix, active=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(secret)):
        return None
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key
