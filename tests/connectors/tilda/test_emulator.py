"""The Tilda emulator: what it sends (checked at a bare receiver, against the contract), its
retries, and the whole way over real HTTP into the hub (pytest-django's live server)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from decimal import Decimal

import pytest
import requests

from connectors.base.emulator import EmulatorProcess
from hub.models import ClientRequest, ConsentRecord, Contact, Inbox, Purchase
from tests.connectors.tilda.conftest import API_KEY, CART, lead


def _post(emulator, action, **spec):
    answer = requests.post(f"{emulator.url}/_emulator/{action}", json=spec, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _fields(**extra):
    return {k: v for k, v in lead(**extra).items() if k not in ("tranid", "formid", "formname")}


# ---------------------------------------------------------------------------------------- as sent
@pytest.fixture
def sender(tilda_emulator, hook_receiver):
    _post(tilda_emulator, "faults", hub_webhook_url=f"{hook_receiver.url}/hook")
    hook_receiver.app.reply = ("ok", "text/plain")
    return tilda_emulator


def test_a_form_is_urlencoded_with_tranid_formid_and_the_key(sender, hook_receiver):
    record = _post(sender, "submit", formid="form1", fields={"Name": "Анна", "Phone": "+79161234567"})
    got = hook_receiver.app.received[0]
    assert got["content_type"] == "application/x-www-form-urlencoded"
    form = dict(got["form"])
    assert form == {"Name": "Анна", "Phone": "+79161234567", "api_key": API_KEY, "tranid": record["tranid"],
                    "formid": "form1"}
    assert record["delivered"] and record["attempts"] == [{"status": 200, "body": "ok",
                                                           "seconds": record["attempts"][0]["seconds"]}]


def test_each_cart_encoding(sender, hook_receiver):
    for encoding in ("json", "payment-json-string", "payment-flat"):
        _post(sender, "submit", formid="form1", fields={"Name": "Анна"}, payment=CART, encoding=encoding)
    as_json, as_string, flat = hook_receiver.app.received
    assert as_json["content_type"] == "application/json" and as_json["body"]["payment"] == CART
    assert json.loads(dict(as_string["form"])["payment"]) == CART
    flat_form = dict(flat["form"])
    assert flat_form["payment[products][1][options][0][variant]"] == "3–7 лет"
    assert flat_form["payment[products][0][price]"] == "600" and flat_form["payment[orderid]"] == "1557604691"


def test_the_key_in_a_header(sender, hook_receiver):
    _post(sender, "faults", api_key_in="header", api_key_field="X-Tilda-Key")
    _post(sender, "submit", fields={"Name": "Анна"})
    got = hook_receiver.app.received[0]
    assert got["headers"]["X-Tilda-Key"] == API_KEY and "api_key" not in dict(got["form"])


def test_no_200_means_two_retries_then_it_gives_up(sender, hook_receiver):
    requests.post(f"{hook_receiver.url}/_emulator/faults", json={"status": 500, "times": 2}, timeout=5)
    record = _post(sender, "submit", fields={"Name": "Анна"})
    assert [a["status"] for a in record["attempts"]] == [500, 500, 200] and record["delivered"]
    requests.post(f"{hook_receiver.url}/_emulator/faults", json={"status": 503, "times": 5}, timeout=5)
    record = _post(sender, "submit", fields={"Name": "Анна"})
    assert [a["status"] for a in record["attempts"]] == [503, 503, 503] and not record["delivered"]


def test_the_handshake_is_test_test(sender, hook_receiver):
    assert _post(sender, "handshake")["connected"]
    assert dict(hook_receiver.app.received[0]["form"]) == {"test": "test", "api_key": API_KEY}


def test_bad_knobs_are_400(sender):
    answer = requests.post(f"{sender.url}/_emulator/submit", json={"encoding": "xml"}, timeout=5)
    assert answer.status_code == 400 and "encoding" in answer.json()["error"]


def test_it_runs_as_a_module():
    with EmulatorProcess("tilda", "--retry-delay", "0") as running:
        assert running.state()["credentials"]["api_key_field"] == "api_key"
    result = subprocess.run([sys.executable, "-m", "connectors.tilda.emulator", "--help"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert "--hub-webhook-url" in result.stdout


# ---------------------------------------------------------------------------------------- into the hub
@pytest.fixture
def hub(tilda, tilda_emulator, live_server):
    _post(tilda_emulator, "faults", hub_webhook_url=f"{live_server.url}{tilda.webhook_path}")
    return tilda_emulator


@pytest.mark.django_db(transaction=True)
def test_handshake_then_a_lead_end_to_end(hub, consent_texts):
    assert _post(hub, "handshake")["status"] == 200
    record = _post(hub, "submit", formid="form100000001", formname="Заявка", fields=_fields())
    assert record["attempts"][0]["status"] == 200 and record["attempts"][0]["body"] == "ok"
    row = Inbox.objects.get()
    assert (row.status, row.event_key) == (Inbox.Status.PROCESSED, record["tranid"])
    request = ClientRequest.objects.get()
    assert request.contact.phone == "+79161234567" and ConsentRecord.objects.get().source["tranid"] == record["tranid"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("encoding", ["json", "payment-json-string", "payment-flat"])
def test_each_cart_encoding_end_to_end(hub, encoding):
    record = _post(hub, "submit", formid="form300", fields=_fields(), payment=CART, encoding=encoding)
    assert record["delivered"]
    purchase = Purchase.objects.get()
    assert purchase.total == Decimal("1700.00") and purchase.lines.count() == 2
    assert purchase.contact == Contact.objects.get()


@pytest.mark.django_db(transaction=True)
def test_a_retried_submission_is_processed_once(hub, tilda):
    record = _post(hub, "submit", fields=_fields(), tranid="1234567:42")
    again = _post(hub, "submit", fields=_fields(), tranid="1234567:42")  # as Tilda's retry after a lost answer
    assert [record["attempts"][0]["status"], again["attempts"][0]["status"]] == [200, 200]
    assert Inbox.objects.count() == 1 and ClientRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_end_to_end_is_refused_on_every_attempt(hub):
    _post(hub, "faults", api_key="stolen?")
    record = _post(hub, "submit", fields=_fields())
    assert [a["status"] for a in record["attempts"]] == [403, 403, 403] and not record["delivered"]
    assert "API-ключ" in json.loads(record["attempts"][0]["body"])["error"]
    assert not Contact.objects.exists() and not ClientRequest.objects.exists()
    assert set(Inbox.objects.values_list("status", flat=True)) == {Inbox.Status.REJECTED}


@pytest.mark.django_db(transaction=True)
def test_the_key_in_a_header_end_to_end(hub, tilda):
    tilda.settings["api_key_field"] = "X-Tilda-Key"
    tilda.save()
    _post(hub, "faults", api_key_in="header", api_key_field="X-Tilda-Key")
    assert _post(hub, "submit", fields=_fields())["delivered"]
    assert ClientRequest.objects.count() == 1
    assert urllib.parse.quote(API_KEY) not in Inbox.objects.get().raw_body
