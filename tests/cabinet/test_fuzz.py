"""Fuzzing the cabinet API from its own OpenAPI schema (schemathesis over WSGI, in-process):
data that fits the schema and data that does not, anonymous and signed in, and no answer is
ever a 5xx."""

from __future__ import annotations

import time

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils.module_loading import import_string
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from cabinet.session import CONTACT_KEY
from hub.models import Contact

CSRF = "fuzzFUZZfuzzFUZZfuzzFUZZfuzzFUZZ"  # any 32 letters: the cookie and the header must agree
EXAMPLES = 250  # per session kind: a few seconds in all


@pytest.fixture
def schema(db: None, settings):  # type: ignore[no-untyped-def]
    """The schema as served, and the app to call. As in Django's test client, a request must
    not close the test's database connection (it holds the test's transaction)."""
    settings.CABINET_THROTTLE_RATES = {"cabinet_code": "100000/hour", "cabinet_verify": "100000/hour"}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/cabinet/schema/", WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _session(contact: Contact) -> str:
    store = import_string(f"{django_settings.SESSION_ENGINE}.SessionStore")()
    store[CONTACT_KEY] = contact.pk
    store.save()
    return store.session_key


def _fuzz(schema, cookies) -> int:  # type: ignore[no-untyped-def]
    """Run the examples; ``cookies()`` gives each a fresh session (a withdrawal of personal-data
    consent or a sign-out ends the one before). Returns how many requests were made."""
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    calls = []

    @given(case=strategy)
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        extra = cookies()
        response = case.call(cookies=extra, headers={"X-CSRFToken": CSRF} if extra else None)
        calls.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    return len(calls)


def test_no_request_from_the_schema_makes_a_server_error(schema, family, sms):
    started = time.monotonic()
    anonymous = _fuzz(schema, dict)
    signed_in = _fuzz(schema, lambda: {"sessionid": _session(family.anna), "csrftoken": CSRF})
    assert anonymous >= 100 and signed_in >= 100
    assert time.monotonic() - started < 60
