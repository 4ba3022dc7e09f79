"""The emulator against the samples of PROTOCOL.md."""

import hashlib
import hmac
import json

import pytest
import requests


def _signed(secret: str, payload: dict) -> tuple[bytes, dict]:
    body = json.dumps(payload).encode()
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Authorization": "Bearer emu-token", "X-Hub-Signature": sig, "Content-Type": "application/json"}


def test_events_are_idempotent_by_id_and_contacts_page_by_cursor(webhook_emulator):
    url = webhook_emulator.url
    event = {"id": "e1", "type": "contact.upsert", "occurred_at": "2026-01-01T00:00:00Z",
             "data": {"id": 5, "first_name": "Анна", "phone": "+79123456789"}}
    body, headers = _signed("emu-secret", {"events": [event]})
    first = requests.post(f"{url}/events", data=body, headers=headers, timeout=5).json()
    again = requests.post(f"{url}/events", data=body, headers=headers, timeout=5).json()
    assert first == again and first["results"][0]["status"] == "ok"
    assert webhook_emulator.app.state()["deliveries"] == 1
    page = requests.get(f"{url}/contacts", headers=headers, timeout=5).json()
    assert [c["first_name"] for c in page["items"]] == ["Анна"]
    empty = requests.get(f"{url}/contacts", params={"cursor": page["next_cursor"]}, headers=headers,
                         timeout=5).json()
    assert empty["items"] == [] and empty["next_cursor"] == page["next_cursor"]


@pytest.mark.parametrize(("headers", "status"), [({"Authorization": "Bearer wrong"}, 401),
                                                 ({"Authorization": "Bearer emu-token"}, 403)])
def test_auth_and_signature_are_enforced(webhook_emulator, headers, status):
    response = requests.post(f"{webhook_emulator.url}/events", data=b'{"events": []}', headers=headers, timeout=5)
    assert response.status_code == status


def test_rate_limit_and_reset_knobs(webhook_emulator):
    url = webhook_emulator.url
    requests.post(f"{url}/_emulator/faults", json={"rate_limit": 2}, timeout=5)
    codes = [requests.get(f"{url}/ping", headers={"Authorization": "Bearer emu-token"}, timeout=5).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
    requests.post(f"{url}/_emulator/faults", json={"rate_limit": None}, timeout=5)
    requests.post(f"{url}/_emulator/reset", timeout=5)
    assert webhook_emulator.app.state()["contacts"] == []
