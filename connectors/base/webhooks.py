"""Helpers connectors use to verify and read inbound webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.http import HttpRequest

from hub.sync.errors import WebhookRejected


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong."""
    try:
        data = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(f"Body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise WebhookRejected("Body must be a JSON object.")
    return data


def hmac_sha256(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hmac(secret: str, body: bytes, signature: str | None) -> None:
    """Constant-time check of an ``sha256=<hex>`` signature; 403 when it does not match."""
    if not secret:
        raise WebhookRejected("Connection has no webhook secret configured.", status=403)
    if not signature or not hmac.compare_digest(hmac_sha256(secret, body), signature.strip()):
        raise WebhookRejected("Bad or missing signature.", status=403)
