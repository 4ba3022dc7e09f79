"""SiteClient against the site emulator over real HTTP: ids and created flags, and every kind
of refusal turned into the engine's typed errors with a readable message."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from connectors.base.emulator import RunningEmulator
from connectors.site import mapping
from connectors.site.client import SiteClient
from connectors.site.emulator import SiteEmulator
from hub.services.connections import connection_upsert
from hub.sync.errors import FatalError, RateLimited, RetryableError

SECRET = "client-test-secret"
PNG_1PX = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@pytest.fixture
def site_emulator():
    with RunningEmulator(SiteEmulator(secret=SECRET, site_name="Крыши")) as running:
        yield running


def _client(url: str, secret: str = SECRET, name: str = "Сайт") -> SiteClient:
    connection, _ = connection_upsert(name=name, system="site", base_url=url, credentials={"secret": secret},
                                      settings={"rate_limit": "1000/second"})
    return SiteClient(connection)


def _faults(emulator: RunningEmulator, spec: dict) -> None:
    requests.post(f"{emulator.url}/_emulator/faults", json=spec, timeout=5).raise_for_status()


@pytest.mark.django_db
def test_templates_and_events_return_the_element_id_and_whether_it_was_created(site_emulator, caplog):
    client = _client(site_emulator.url)
    caplog.set_level(logging.DEBUG)
    assert client.ping() == {"ok": True, "site": "Крыши"}
    body = mapping.template_body("Крыши Петербурга", "<p>Экскурсия</p>", ("poster.png", "image/png", PNG_1PX))
    template_id, created = client.put_template(mapping.template_xml_id(7), body)
    assert created is True
    assert client.put_template(mapping.template_xml_id(7), body) == (template_id, False)

    event_id, created = client.put_event(mapping.event_xml_id(3), mapping.event_body(template_id, {"title": "Крыши"}))
    assert created is True and event_id != template_id
    again = client.put_event(mapping.event_xml_id(3), mapping.event_body(template_id, {"speaker": "Иван"}))
    assert again == (event_id, False)

    state = site_emulator.app.state()
    assert [t["xml_id"] for t in state["templates"]] == ["hub-t-7"]
    assert state["templates"][0]["image"]["size"] == len(PNG_1PX)
    assert state["events"][0]["speaker"] == "Иван" and state["events"][0]["title"] == "Крыши"
    logged = caplog.text
    assert SECRET not in logged and "Экскурсия" not in logged and "Иван" not in logged


@pytest.mark.django_db
def test_a_site_in_maintenance_is_a_retryable_error(site_emulator):
    client = _client(site_emulator.url)
    _faults(site_emulator, {"status": 503, "times": 1})
    with pytest.raises(RetryableError) as caught:
        client.put_template("hub-t-1", mapping.template_body("x", "", None))
    assert caught.value.retryable and "503" in str(caught.value)
    _faults(site_emulator, {"status": 503, "times": 1, "retry_after": 120})
    with pytest.raises(RateLimited) as limited:
        client.ping()
    assert limited.value.retry_after == 120
    _faults(site_emulator, {"status": 500, "times": 1})
    with pytest.raises(RetryableError):
        client.ping()
    assert client.ping()["ok"] is True  # back up


@pytest.mark.django_db
def test_an_unreachable_site_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RetryableError, match="cannot connect"):
        _client(f"http://127.0.0.1:{port}").ping()


@pytest.mark.django_db
def test_a_wrong_secret_is_fatal_and_says_so(site_emulator):
    client = _client(site_emulator.url, secret="not-the-secret")
    with pytest.raises(FatalError) as caught:
        client.put_template("hub-t-1", mapping.template_body("x", "", None))
    message = str(caught.value)
    assert not caught.value.retryable
    assert message.startswith("site refused the signature (check the shared secret)")
    assert "signature does not match" in message and "not-the-secret" not in message


@pytest.mark.django_db
def test_the_sites_reason_is_carried_in_a_refusal(site_emulator):
    client = _client(site_emulator.url)
    with pytest.raises(FatalError) as unknown:
        client.put_event("hub-e-1", mapping.event_body("404", {"title": "Крыши"}))
    assert "HTTP 422" in str(unknown.value) and "'404' is not a template" in str(unknown.value)
    with pytest.raises(FatalError, match=r"HTTP 422: image\.data is not a JPEG"):
        client.put_template("hub-t-1", mapping.template_body("x", "", ("a.png", "image/png", b"%PDF")))
    with pytest.raises(FatalError, match="HTTP 400: unknown fields: extra"):
        client.put_template("hub-t-1", {"title": "x", "extra": 1})
    _faults(site_emulator, {"max_body": 100})
    with pytest.raises(FatalError, match="HTTP 413"):
        client.put_template("hub-t-1", mapping.template_body("x", "y" * 200, None))
    assert site_emulator.app.state()["templates"] == []
