"""Hostile bodies at every endpoint of the public JSON APIs (client cabinet, loyalty API for
tills), past their doors (a till's key; the cabinet's sign-in is open): never a 5xx, every
refusal is a 4xx whose ``detail`` says why, and nothing is written."""

from __future__ import annotations

import json

import pytest
from django.conf import settings as django_settings
from django.test import Client

from hub.models import Contact, Inbox
from loyalty.models import Receipt
from loyalty.services.api_keys import api_key_create
from loyalty.services.ledger import program_default

pytestmark = pytest.mark.django_db

JSON = "application/json"
DEEP = 10_000
RECEIPT = {"client": {"card": "C-1"}, "lines": [{"sku": "T-1", "amount": "10"}], "order": "o-1"}
HOSTILE: dict[str, tuple[bytes, str]] = {
    "deep arrays": (b"[" * DEEP + b"]" * DEEP, JSON),
    "deep objects": (b'{"a":' * DEEP + b"1" + b"}" * DEEP, JSON),
    "deep just under the parser's limit": (b'{"phone": ' + b"[" * 900 + b"]" * 900 + b"}", JSON),
    "invalid utf-8": (b'{"phone": "\xff\xfe"}', JSON),
    "lone surrogate": (b'{"phone": "\\ud800", "order": "\\udfff", "client": {"card": "\\ud800"}}', JSON),
    "nul": (b'{"phone": "+7916\\u0000", "order": "a\\u0000"}', JSON),
    "float overflow": (b'{"phone": 1e999, "points": 1e999, "code": 1e999}', JSON),
    "nan": (b'{"phone": NaN, "points": NaN}', JSON),
    "huge integer": (b'{"client": {"id": ' + b"9" * 5000 + b"}}", JSON),
    "array": (json.dumps([RECEIPT]).encode(), JSON),
    "empty": (b"", JSON),
    "not json": (b"{not json", JSON),
    "form": (b"phone=%2B79161234567&order=o-2", "application/x-www-form-urlencoded"),
    "multipart without boundary": (b"phone=1", "multipart/form-data"),
    "text": (json.dumps(RECEIPT).encode(), "text/plain"),
    "oversized": (b'{"pad": "' + b"x" * django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + b'"}', JSON),
}
CABINET = ["auth/code/", "auth/verify/", "auth/logout/", "me/", "consents/withdraw/"]
IGNORES_BODY = {"auth/logout/"}  # signs out whatever is sent: a 2xx is right, a 5xx still is not
LOYALTY = ["calculate/", "confirm/", "refund/"]


@pytest.fixture
def till_key() -> str:
    _, secret = api_key_create("Касса", program_default())
    return secret


def _check(answer, path: str) -> str:  # type: ignore[no-untyped-def]
    """'' when the answer is a 4xx with a reason, else what is wrong."""
    if answer.status_code >= 500:
        return f"server error {answer.status_code}"
    if path in IGNORES_BODY and answer.status_code < 400:
        return ""
    if not 400 <= answer.status_code < 500:
        return f"accepted ({answer.status_code})"
    try:
        detail = answer.json().get("detail")
    except ValueError:
        return f"no JSON reason: {answer.content[:120]!r}"
    return "" if isinstance(detail, str) and detail.strip() else f"no reason: {answer.content[:120]!r}"


@pytest.mark.parametrize("api", ["cabinet", "loyalty"])
def test_hostile_bodies_are_refused_with_a_reason(api, till_key, settings):
    settings.CABINET_THROTTLE_RATES = {"cabinet_code": "100000/hour", "cabinet_verify": "100000/hour"}
    headers = {"HTTP_AUTHORIZATION": f"Bearer {till_key}"} if api == "loyalty" else {}
    contacts = Contact.objects.count()
    problems = {}
    for path in CABINET if api == "cabinet" else LOYALTY:
        for name, (body, content_type) in HOSTILE.items():
            client = Client(raise_request_exception=False)
            for method in ("post", "patch") if path == "me/" else ("post",):
                answer = getattr(client, method)(f"/api/{api}/{path}", body, content_type=content_type, **headers)
                problem = _check(answer, path)
                if problem:
                    problems[f"{method} {path} {name}"] = problem
    assert problems == {}
    first = (CABINET if api == "cabinet" else LOYALTY)[0]
    too_large = Client().post(f"/api/{api}/{first}", HOSTILE["oversized"][0], content_type=JSON, **headers)
    assert too_large.status_code == 413
    assert str(django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in too_large.json()["detail"]
    assert Contact.objects.count() == contacts and not Receipt.objects.exists()
    assert not Inbox.objects.exclude(status=Inbox.Status.REJECTED).exists()
