"""Tilda as a sender: it posts form submissions (and carts) to the hub's webhook the way Tilda
does, per /work/shared/contracts/channels.md ("Tilda forms"), not per the hub's parser:

- POST, form-urlencoded by default, fields named as in the form plus ``tranid``, ``formid``;
- ``test=test`` when the webhook is connected;
- the API key in a configurable header or body field;
- no 200 within 5 s → two retries, a minute apart (``retry_delay``, 0 in tests);
- a cart's ``payment`` {orderid, amount, products[…]} as nested JSON, as flattened keys
  ``payment[products][0][name]``, or as a JSON string; products as objects or "Name=490".

Knobs: ``POST /_emulator/submit {"formid", "fields": {...}, "payment": {...}|null, "encoding":
"form"|"json"|"payment-json-string"|"payment-flat", "tranid"?, "wait"?: true}`` sends one
submission; ``POST /_emulator/handshake`` sends ``test=test``; ``POST /_emulator/faults``
also takes ``hub_webhook_url``, ``api_key``, ``api_key_field``, ``api_key_in`` ("body" |
"header"), ``retry_delay``, ``timeout``. ``GET /_emulator/state`` lists every submission
with each attempt and the hub's answer.
"""

from __future__ import annotations

import argparse
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from typing import Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli

ENCODINGS = ("form", "json", "payment-json-string", "payment-flat")
RETRIES = 2  # after the first attempt
RETRY_DELAY = 60.0  # seconds between attempts
TIMEOUT = 5.0  # Tilda waits this long for the answer


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    """PHP-style keys: ``payment[products][0][name]``."""
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in flatten(f"{prefix}[{key}]", item)]
    if isinstance(value, list):
        return [pair for n, item in enumerate(value) for pair in flatten(f"{prefix}[{n}]", item)]
    return [(prefix, "" if value is None else str(value))]


class TildaEmulator(Emulator):
    name = "tilda"

    def __init__(self, *, rate_limit: float | None = None, hub_webhook_url: str = "", api_key: str | None = None,
                 api_key_field: str = "api_key", api_key_in: str = "body", retry_delay: float = RETRY_DELAY,
                 timeout: float = TIMEOUT, project_id: int = 1234567) -> None:
        self.hub_webhook_url = hub_webhook_url
        self.api_key = api_key if api_key is not None else secrets.token_urlsafe(16)
        self.api_key_field, self.api_key_in = api_key_field, api_key_in
        self.retry_delay, self.timeout, self.project_id = retry_delay, timeout, project_id
        self.sequence = itertools.count(9_000_000_001)
        super().__init__(rate_limit=rate_limit)

    def routes(self) -> list[Rule]:
        return [Rule("/_emulator/submit", endpoint="submit", methods=["POST"]),
                Rule("/_emulator/handshake", endpoint="handshake", methods=["POST"])]

    def reset(self) -> None:
        self.submissions: list[dict[str, Any]] = []
        self.handshakes: list[dict[str, Any]] = []

    def credentials(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "api_key_field": self.api_key_field, "api_key_in": self.api_key_in,
                "webhook_url": self.hub_webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"submissions": self.submissions, "handshakes": self.handshakes, "retry_delay": self.retry_delay}

    def control(self, spec: dict[str, Any]) -> None:
        for key in ("hub_webhook_url", "api_key", "api_key_field", "api_key_in"):
            if key in spec:
                setattr(self, key, str(spec[key]))
        for key in ("retry_delay", "timeout"):
            if key in spec:
                setattr(self, key, float(spec[key]))

    # building a request as Tilda does -----------------------------------------------------------
    def _request(self, fields: dict[str, Any], payment: Any, encoding: str) -> tuple[bytes, dict[str, str]]:
        headers: dict[str, str] = {"User-Agent": "Tilda.cc"}
        fields = dict(fields)
        if self.api_key_in == "header":
            headers[self.api_key_field] = self.api_key
        else:
            fields[self.api_key_field] = self.api_key
        if encoding == "json":
            if payment is not None:
                fields["payment"] = payment
            headers["Content-Type"] = "application/json"
            return json.dumps(fields, ensure_ascii=False).encode(), headers
        pairs = [(str(k), "" if v is None else str(v)) for k, v in fields.items()]
        if payment is not None:
            if encoding == "payment-json-string":
                pairs.append(("payment", json.dumps(payment, ensure_ascii=False)))
            else:  # "form" and "payment-flat": Tilda's default form encoding flattens the cart
                pairs.extend(flatten("payment", payment))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return urllib.parse.urlencode(pairs).encode(), headers

    def _deliver(self, record: dict[str, Any], body: bytes, headers: dict[str, str]) -> None:
        """First attempt and up to two retries, ``retry_delay`` apart, until a 200 comes back."""
        for attempt in range(1 + RETRIES):
            if attempt:
                time.sleep(self.retry_delay)
            started = time.monotonic()
            status, text = self.post_now(record["url"], body, headers, timeout=self.timeout)
            with self.lock:
                record["attempts"].append({"status": status, "body": text[:1000],
                                           "seconds": round(time.monotonic() - started, 3)})
                if status == 200:
                    record["delivered"] = True
                    return

    # knobs ----------------------------------------------------------------------------------------
    def submit(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict):
            return json_response({"error": "expected a JSON object"}, 400)
        encoding = str(spec.get("encoding") or "form")
        if encoding not in ENCODINGS:
            return json_response({"error": f"encoding is one of {', '.join(ENCODINGS)}"}, 400)
        fields = spec.get("fields") or {}
        if not isinstance(fields, dict):
            return json_response({"error": "fields is an object"}, 400)
        url = str(spec.get("webhook_url") or self.hub_webhook_url)
        if not url:
            return json_response({"error": "no hub webhook URL configured"}, 400)
        with self.lock:
            tranid = str(spec.get("tranid") or f"{self.project_id}:{next(self.sequence)}")
        formid = str(spec.get("formid") or "form100000001")
        submitted = {**fields, "tranid": tranid, "formid": formid}
        if spec.get("formname"):
            submitted["formname"] = str(spec["formname"])
        body, headers = self._request(submitted, spec.get("payment"), encoding)
        record = {"tranid": tranid, "formid": formid, "encoding": encoding, "url": url, "delivered": False,
                  "content_type": headers["Content-Type"], "body": body.decode(), "attempts": []}
        with self.lock:
            self.submissions.append(record)
        if spec.get("wait", True):
            self._deliver(record, body, headers)
        else:
            thread = threading.Thread(target=self._deliver, args=(record, body, headers), daemon=True)
            self.deliveries.append(thread)
            thread.start()
        return json_response(record)

    def handshake(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True) or {}
        url = str(spec.get("webhook_url") or self.hub_webhook_url) if isinstance(spec, dict) else ""
        if not url:
            return json_response({"error": "no hub webhook URL configured"}, 400)
        body, headers = self._request({"test": "test"}, None, "form")
        status, text = self.post_now(url, body, headers, timeout=self.timeout)
        record = {"url": url, "status": status, "body": text[:1000], "connected": status == 200}
        with self.lock:
            self.handshakes.append(record)
        return json_response(record)


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--hub-webhook-url", default="")
        parser.add_argument("--api-key", default=None)
        parser.add_argument("--api-key-field", default="api_key")
        parser.add_argument("--api-key-in", choices=("body", "header"), default="body")
        parser.add_argument("--retry-delay", type=float, default=RETRY_DELAY)

    run_cli(lambda a: TildaEmulator(rate_limit=a.rate_limit, hub_webhook_url=a.hub_webhook_url, api_key=a.api_key,
                                    api_key_field=a.api_key_field, api_key_in=a.api_key_in,
                                    retry_delay=a.retry_delay),
            "Tilda emulator (sends form submissions to the hub)", add_arguments)


if __name__ == "__main__":
    main()
