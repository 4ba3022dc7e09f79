"""A Tilda connection, its emulator on a real port, and real-shaped submissions."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from connectors.base.emulator import RunningEmulator
from connectors.tilda.emulator import TildaEmulator, flatten
from hub.models import Connection
from hub.services.connections import connection_upsert

API_KEY = "tilda-api-key-0123456789"
CALLBACK_FORM = "form200000002"

#: A cart as the public integrations show it (see connectors/tilda/mapping.py for sources).
CART = {"orderid": "1557604691", "amount": "1700", "subtotal": "1700",
        "products": [{"name": "Взрослый билет", "quantity": "2", "amount": "1200", "price": "600",
                      "sku": "ADULT-1", "externalid": "t-adult"},
                     {"name": "Детский билет", "quantity": "1", "amount": "500", "price": "500",
                      "options": [{"option": "Возраст", "variant": "3–7 лет"}]}]}


@pytest.fixture
def tilda(db: None) -> Connection:
    connection, _ = connection_upsert(name="Сайт на Tilda", system="tilda", credentials={"api_key": API_KEY},
                                      settings={"forms": {CALLBACK_FORM: "callback"}})
    return connection


@pytest.fixture
def tilda_emulator() -> Iterator[RunningEmulator]:
    with RunningEmulator(TildaEmulator(api_key=API_KEY, retry_delay=0)) as running:
        yield running


def form_body(fields: dict[str, Any], payment: Any = None, *, encoding: str = "form",
              key: str | None = API_KEY) -> tuple[str, str]:
    """(body, content type) of a submission, built here from the contract's notes."""
    fields = {**fields, **({"api_key": key} if key is not None else {})}
    if encoding == "json":
        return json.dumps({**fields, **({"payment": payment} if payment is not None else {})},
                          ensure_ascii=False), "application/json"
    pairs = list(fields.items())
    if payment is not None:
        pairs += [("payment", json.dumps(payment, ensure_ascii=False))] if encoding == "payment-json-string" \
            else flatten("payment", payment)
    return urllib.parse.urlencode(pairs), "application/x-www-form-urlencoded"


def submit(connection: Connection, fields: dict[str, Any], payment: Any = None, *, encoding: str = "form",
           key: str | None = API_KEY, **headers: str):
    body, content_type = form_body(fields, payment, encoding=encoding, key=key)
    return Client().post(connection.webhook_path, body, content_type=content_type, **headers)


def lead(tranid: str = "1234567:1001", formid: str = "form100000001", **fields: str) -> dict[str, str]:
    """A feedback form: name, phone, e-mail, the consent checkbox ticked."""
    return {"Name": "Анна", "Phone": "+7 (916) 123-45-67", "Email": "Anna@Example.com", "Checkbox": "yes",
            "Comments": "Хотим день рождения на 10 детей", "tranid": tranid, "formid": formid,
            "formname": "Заявка", **fields}
