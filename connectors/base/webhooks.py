"""Helpers connectors use to verify and read inbound webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from typing import Any

from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError

from hub.models import Connection
from hub.sync.errors import WebhookRejected


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: no database stores an infinity in JSON
        raise ValueError(f"the number {text[:30]} is out of range")
    return value


def json_value(request: HttpRequest) -> Any:
    """The body as JSON of any shape, or a 400 that says what is wrong.

    Refuses what a database cannot store faithfully (NaN/Infinity, 1e999, NUL characters, lone
    surrogates) and absurd nesting, so nothing a sender does turns into a 500.
    """
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("Body is not UTF-8 text.") from exc
    if "\x00" in text or "\\u0000" in text:
        raise WebhookRejected("Body contains NUL characters.")
    try:
        value = json.loads(text or "null", parse_constant=_no_constants, parse_float=_finite)
    except RecursionError as exc:
        raise WebhookRejected("Body is nested too deeply.") from exc
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise WebhookRejected(f"Body is not valid JSON: {exc}") from exc
    # cheap tests first: most bodies have neither many brackets nor \uD800-\uDFFF escapes
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if surrogates or text.count("[") + text.count("{") > MAX_DEPTH:
        _check_storable(value, surrogates)
    return value


MAX_DEPTH = 64  # real webhooks nest a handful of levels; 900 passes json.loads, then breaks json.dumps
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_storable(value: Any, surrogates: bool) -> None:
    """Nesting within MAX_DEPTH (a payload nested near the interpreter's recursion limit is
    parsed here but fails when stored, deeper in the stack) and, when the text escapes
    surrogates, no lone one (neither UTF-8 nor PostgreSQL can hold it). Iterative: no recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if surrogates:
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise WebhookRejected("Body contains a lone UTF-16 surrogate (\\uD800–\\uDFFF).") from exc
            continue
        if depth >= MAX_DEPTH and isinstance(item, dict | list):
            raise WebhookRejected(f"Body is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object (``json_value``'s checks), or a 400."""
    data = json_value(request)
    if not isinstance(data, dict):
        raise WebhookRejected("Body must be a JSON object.")
    return data


def form_fields(request: HttpRequest) -> QueryDict:
    """The form fields (urlencoded or multipart), or a 400 saying why they cannot be read or
    stored (NUL characters, as ``json_value``). Django reads a form once: the outcome is kept on
    the request for every later call."""
    outcome = getattr(request, "_hub_form", None)
    if outcome is None:
        try:
            form = request.POST
        except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
            outcome = f"Body is not a readable form: {exc}"
        else:
            nul = any("\x00" in key or "\x00" in value for key, values in form.lists() for value in values)
            outcome = "Body contains NUL characters." if nul else form
        request._hub_form = outcome  # type: ignore[attr-defined]
    if isinstance(outcome, str):
        raise WebhookRejected(outcome)
    return outcome


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


CONNECTION_TTL = 2.0  # seconds a worker reuses its copy of a webhook's connection
_connections: dict[tuple[str, str], tuple[float, Connection]] = {}


def webhook_connection(system: str, key: str, *, fresh: bool = False) -> tuple[Connection | None, bool]:
    """The enabled connection behind a webhook URL, and whether it is this worker's copy (up to
    CONNECTION_TTL old): a query per event was a quarter of the intake's cost. A save or delete
    in this process drops the copies at once; other processes see a change within the TTL, and
    a refused request is verified again against a fresh read (hub/views/webhooks.py). Unknown keys
    are never kept, so a scan of random URLs costs no memory."""
    hit = _connections.get((system, key))
    if hit is not None and not fresh and hit[0] > time.monotonic():
        return hit[1], True
    connection = Connection.objects.filter(system=system, key=key, enabled=True).first()
    if connection is None:
        _connections.pop((system, key), None)
    else:
        _connections[(system, key)] = (time.monotonic() + CONNECTION_TTL, connection)
    return connection, False


def _forget_connections(**kwargs: Any) -> None:
    _connections.clear()


post_save.connect(_forget_connections, sender=Connection, dispatch_uid="webhooks-forget-connections")
post_delete.connect(_forget_connections, sender=Connection, dispatch_uid="webhooks-forget-connections")
