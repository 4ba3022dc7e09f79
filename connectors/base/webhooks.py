"""Helpers connectors use to verify and read inbound webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from django.http import HttpRequest

from hub.sync.errors import WebhookRejected


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def json_value(request: HttpRequest) -> Any:
    """The body as JSON of any shape, or a 400 that says what is wrong.

    Refuses what a database cannot store faithfully (NaN/Infinity, NUL characters) and
    absurd nesting, so nothing a sender does turns into a 500.
    """
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("Body is not UTF-8 text.") from exc
    if "\x00" in text or "\\u0000" in text:
        raise WebhookRejected("Body contains NUL characters.")
    try:
        return json.loads(text or "null", parse_constant=_no_constants)
    except RecursionError as exc:
        raise WebhookRejected("Body is nested too deeply.") from exc
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise WebhookRejected(f"Body is not valid JSON: {exc}") from exc


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object (``json_value``'s checks), or a 400."""
    data = json_value(request)
    if not isinstance(data, dict):
        raise WebhookRejected("Body must be a JSON object.")
    return data


def require_post(request: HttpRequest) -> None:
    if request.method != "POST":
        raise WebhookRejected("Only POST is accepted.", status=405)


def require_secret(expected: str, sent: str, reason: str, status: int = 401) -> None:
    """Constant-time comparison of a shared value the sender must present."""
    if not expected or not hmac.compare_digest(str(expected), str(sent or "")):
        raise WebhookRejected(reason, status=status)


def hmac_sha256(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hmac(secret: str, body: bytes, signature: str | None) -> None:
    """Constant-time check of an ``sha256=<hex>`` signature; 403 when it does not match."""
    if not secret:
        raise WebhookRejected("Connection has no webhook secret configured.", status=403)
    if not signature or not hmac.compare_digest(hmac_sha256(secret, body), signature.strip()):
        raise WebhookRejected("Bad or missing signature.", status=403)
