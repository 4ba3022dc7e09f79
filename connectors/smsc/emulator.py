"""Emulator of SMSC.ru's HTTP API (https://smsc.ru/api/http/), written from its public
description (contracts/channels.md "SMS" and the sources listed in ``connectors/smsc/mapping.py``),
not from our client.

API. Parameters by GET or POST (query or form), decoded in ``charset`` (utf-8, koi8-r, or the
default windows-1251); ``login`` + ``psw`` on every call; ``fmt`` picks the answer: 0 text
(default), 1 numbers, 3 JSON. Errors are HTTP 200 too.

- ``/sys/send.php``: ``phones`` (comma/semicolon list, "+" optional), ``mes``, optional ``id``
  (the client's id: 1…2147483647 or ≤ 40 of ``A-Za-z0-9._-``; assigned when absent; not
  unique), ``sender``. JSON answer ``{"id": …, "cnt": <SMS parts>}`` or ``{"error": "…",
  "error_code": N}`` (+ ``"id"`` for 3, 6, 7, 8). Codes: 1 bad parameters, 2 bad login or
  password, 3 not enough money, 6 message forbidden (a forbidden word, an unregistered sender),
  7 bad phone format, 8 cannot be delivered to the number, 9 the identical request again within
  a minute.
- ``/sys/balance.php``: ``{"balance": "123.45"}``.
- ``/sys/status.php``: ``phone`` + ``id`` → ``{"status": N, "last_timestamp": …, "err": …}``;
  unknown → status −3.

Callbacks (to ``webhook_url``; form-encoded in the charset named by its ``charset`` query
parameter, windows-1251 by default, or JSON when it carries ``fmt=3``), posted synchronously:

- ``POST /_emulator/deliver {"id", "status": "delivered"|"failed", "code"?, "err"?, "phone"?}``
  → fields ``id, phone, status, time, ts, err`` (status 1 delivered; failed: 20 unless ``code``);
- ``POST /_emulator/incoming {"from": "+79…", "text": "…"}`` → fields ``sms_id, phone, mes,
  to, sent, time``.

Both answer ``{"status": <hub's HTTP status>, "body": <hub's answer text>}``.

Knobs (``POST /_emulator/faults``, besides the base's faults and ``rate_limit``):
``webhook_url``, ``login``, ``password``, ``balance``, ``price`` (per SMS part), ``invalid``
(numbers answered 7), ``forbidden`` (numbers answered 8), ``forbidden_words`` (texts answered 6),
``senders`` (registered sender names), ``number`` (the number incoming SMS are sent to).
Default rate limit: 3 requests a second (see mapping.py).

Run: ``python -m connectors.smsc.emulator --port N [--login L --password P] [--hub-webhook-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli
from connectors.channels.sms import sms_parts

ERRORS = {
    1: "parameters error",
    2: "authorise error",
    3: "no money",
    6: "message is denied",
    7: "invalid phone",
    8: "cannot deliver message",
    9: "duplicate request, wait a minute",
}
CHARSETS = {"utf-8": "utf-8", "koi8-r": "koi8-r", "windows-1251": "cp1251"}
DEFAULT_CHARSET = "windows-1251"
DELIVERED, UNDELIVERABLE, PASSED = 1, 20, 0
NUMBER = re.compile(r"[1-9]\d{9,14}")
CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")
REPEAT_WINDOW = 60.0
MAX_ID = 2147483647


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value))


class Refusal(Exception):
    def __init__(self, code: int, message_id: Any = None) -> None:
        super().__init__(ERRORS[code])
        self.code, self.message_id = code, message_id


class SmscEmulator(Emulator):
    name = "smsc"
    default_rate_limit = 3

    def __init__(self, *, rate_limit: float | None = None, login: str = "hub", password: str | None = None,
                 balance: float = 1000, price: float = 2.5, hub_webhook_url: str = "") -> None:
        self.login = login
        self.password = password or secrets.token_urlsafe(12)
        self.initial_balance = Decimal(str(balance))
        self.initial_price = Decimal(str(price))
        self.hub_webhook_url = hub_webhook_url
        super().__init__(rate_limit=rate_limit)

    # the base's hooks -----------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        any_method = ["GET", "POST"]
        return [Rule("/sys/send.php", endpoint="send", methods=any_method),
                Rule("/sys/balance.php", endpoint="balance_php", methods=any_method),
                Rule("/sys/status.php", endpoint="status_php", methods=any_method),
                Rule("/_emulator/deliver", endpoint="deliver", methods=["POST"]),
                Rule("/_emulator/incoming", endpoint="incoming", methods=["POST"])]

    def reset(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.incoming_messages: list[dict[str, Any]] = []
        self.balance = self.initial_balance
        self.price = self.initial_price
        self.invalid: set[str] = set()
        self.forbidden: set[str] = set()
        self.forbidden_words: list[str] = []
        self.senders: set[str] = {"SMSC.RU"}
        self.number = "79990000000"
        self.next_id = 1
        self.next_incoming = 1
        self.recent: dict[str, float] = {}

    def credentials(self) -> dict[str, Any]:
        return {"login": self.login, "password": self.password, "webhook_url": self.hub_webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "incoming": [dict(m) for m in self.incoming_messages],
                "balance": str(self.balance)}

    def control(self, spec: dict[str, Any]) -> None:
        if "webhook_url" in spec:
            self.hub_webhook_url = str(spec["webhook_url"] or "")
        for knob in ("login", "password", "number"):
            if spec.get(knob):
                setattr(self, knob, str(spec[knob]))
        try:
            if "balance" in spec:
                self.balance = Decimal(str(spec["balance"]))
            if "price" in spec:
                self.price = Decimal(str(spec["price"]))
        except InvalidOperation:
            pass  # a bad knob leaves the value as it was
        for knob in ("invalid", "forbidden"):
            if isinstance(spec.get(knob), list):
                setattr(self, knob, {_digits(p) for p in spec[knob]})
        if isinstance(spec.get("forbidden_words"), list):
            self.forbidden_words = [str(w).lower() for w in spec["forbidden_words"]]
        if isinstance(spec.get("senders"), list):
            self.senders = {str(s) for s in spec["senders"]}

    # reading a request as SMSC does -----------------------------------------------------------
    @staticmethod
    def _params(request: Request) -> dict[str, str]:
        """Query and form fields, percent-decoded in the request's ``charset``."""
        sources = [request.query_string]
        if request.method == "POST" and request.mimetype in ("", "application/x-www-form-urlencoded"):
            sources.append(request.get_data())
        raw = [pair for source in sources for pair in parse_qsl(source.decode("latin-1"), keep_blank_values=True)]
        charset = CHARSETS.get(dict(raw).get("charset", DEFAULT_CHARSET).lower(), "cp1251")
        params: dict[str, str] = {}
        for source in sources:
            for key, value in parse_qsl(source.decode("latin-1"), keep_blank_values=True, encoding=charset,
                                        errors="replace"):
                params.setdefault(key, value)
        return params

    @staticmethod
    def _answer(params: dict[str, str], data: dict[str, Any], text: str, numbers: str) -> Response:
        fmt = params.get("fmt", "0")
        if fmt == "3":
            return json_response(data)
        return Response(numbers if fmt == "1" else text, mimetype="text/plain")

    def _refused(self, params: dict[str, str], refusal: Refusal) -> Response:
        data: dict[str, Any] = {"error": ERRORS[refusal.code], "error_code": refusal.code}
        if refusal.message_id is not None:
            data["id"] = refusal.message_id
        return self._answer(params, data, f"ERROR = {refusal.code} ({ERRORS[refusal.code]})",
                            f"{refusal.message_id or 0},-{refusal.code}")

    def _authorized(self, params: dict[str, str]) -> bool:
        return (secrets.compare_digest(params.get("login", ""), self.login)
                and secrets.compare_digest(params.get("psw", ""), self.password))

    # API ----------------------------------------------------------------------------------------
    def send(self, request: Request) -> Response:
        params = self._params(request)
        try:
            with self.lock:
                message_id, count = self._send(params)
        except Refusal as refusal:
            return self._refused(params, refusal)
        return self._answer(params, {"id": message_id, "cnt": count}, f"OK - {count} SMS, ID - {message_id}",
                            f"{message_id},{count}")

    def _send(self, params: dict[str, str]) -> tuple[Any, int]:
        if not self._authorized(params):
            raise Refusal(2)
        text, sender = params.get("mes", ""), params.get("sender", "")
        phones = [p.strip() for p in re.split(r"[,;]", params.get("phones", "")) if p.strip()]
        if not phones or not text:
            raise Refusal(1)
        message_id = self._client_id(params.get("id", ""))
        fingerprint = "|".join([params.get("phones", ""), text, sender, str(params.get("id", ""))])
        now = time.time()
        self.recent = {k: t for k, t in self.recent.items() if now - t < REPEAT_WINDOW}
        if fingerprint in self.recent:
            raise Refusal(9)
        numbers = [_digits(p) for p in phones]
        if any(not NUMBER.fullmatch(n) or n in self.invalid for n in numbers):
            raise Refusal(7, message_id)
        if (sender and sender not in self.senders) or any(w in text.lower() for w in self.forbidden_words):
            raise Refusal(6, message_id)
        if any(n in self.forbidden for n in numbers):
            raise Refusal(8, message_id)
        parts = sms_parts(text)
        cost = self.price * parts * len(numbers)
        if self.balance < cost:
            raise Refusal(3, message_id)
        self.recent[fingerprint] = now
        self.balance -= cost
        for number in numbers:
            self.messages.append({"id": message_id, "phone": number, "text": text, "sender": sender, "parts": parts,
                                  "status": "sent", "status_code": PASSED, "err": 0, "sent_at": int(now)})
        return message_id, parts * len(numbers)

    def _client_id(self, raw: str) -> Any:
        if not raw:
            message_id, self.next_id = self.next_id, self.next_id + 1
            return message_id
        if raw.isdigit():
            if not 1 <= int(raw) <= MAX_ID:
                raise Refusal(1)
            return int(raw)
        if not CLIENT_ID.fullmatch(raw):
            raise Refusal(1)
        return raw

    def balance_php(self, request: Request) -> Response:
        params = self._params(request)
        if not self._authorized(params):
            return self._refused(params, Refusal(2))
        with self.lock:
            amount = f"{self.balance.quantize(Decimal('0.01'))}"
        return self._answer(params, {"balance": amount}, amount, amount)

    def status_php(self, request: Request) -> Response:
        params = self._params(request)
        if not self._authorized(params):
            return self._refused(params, Refusal(2))
        with self.lock:
            message = self._message(params.get("id", ""), _digits(params.get("phone", "")))
            code = message["status_code"] if message else -3
            err = message["err"] if message else 0
            stamp = message["sent_at"] if message else 0
        return self._answer(params, {"status": code, "last_timestamp": stamp, "err": err},
                            f"Status = {code}, check_time = {stamp}", f"{code},{stamp}")

    def _message(self, message_id: Any, phone: str = "") -> dict[str, Any] | None:
        return next((m for m in self.messages
                     if str(m["id"]) == str(message_id) and (not phone or m["phone"] == phone)), None)

    # callbacks ----------------------------------------------------------------------------------
    def _post(self, fields: dict[str, Any]) -> Response:
        """POST ``fields`` to the hub as SMSC does: the charset and format its URL names."""
        url = self.hub_webhook_url
        query = dict(parse_qsl(urlsplit(url).query))
        if query.get("fmt") == "3":
            body: bytes = json.dumps(fields, ensure_ascii=False).encode()
            content_type = "application/json"
        else:
            charset = CHARSETS.get(query.get("charset", DEFAULT_CHARSET).lower(), "cp1251")
            body = urlencode({k: str(v) for k, v in fields.items()}, encoding=charset, errors="replace").encode()
            content_type = "application/x-www-form-urlencoded"
        status, text = self.post_now(url, body, {"Content-Type": content_type}, timeout=10)
        if status is None:
            return json_response({"error": f"the hub could not be reached: {text}"}, 502)
        return json_response({"status": status, "body": text})

    def deliver(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or spec.get("status") not in ("delivered", "failed"):
            return json_response({"error": 'expected {"id", "status": "delivered"|"failed"}'}, 400)
        with self.lock:
            message = self._message(spec.get("id", ""), _digits(spec.get("phone", "")))
            if message is None:
                return json_response({"error": f"no message {spec.get('id')!r}"}, 404)
            if not self.hub_webhook_url:
                return json_response({"error": "no webhook_url set"}, 409)
            try:
                code = DELIVERED if spec["status"] == "delivered" else int(spec.get("code") or UNDELIVERABLE)
                err = 0 if spec["status"] == "delivered" else int(spec.get("err") or 0)
            except (TypeError, ValueError):
                return json_response({"error": "code and err must be numbers"}, 400)
            message.update(status=spec["status"], status_code=code, err=err)
            fields = {"id": message["id"], "phone": message["phone"], "status": code, "time": int(time.time()),
                      "ts": message["sent_at"], "err": err}
        return self._post(fields)

    def incoming(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or not _digits(spec.get("from", "")) or not isinstance(spec.get("text"), str):
            return json_response({"error": 'expected {"from": "+79…", "text": "…"}'}, 400)
        with self.lock:
            if not self.hub_webhook_url:
                return json_response({"error": "no webhook_url set"}, 409)
            now = int(time.time())
            sms_id, self.next_incoming = self.next_incoming, self.next_incoming + 1
            fields = {"sms_id": sms_id, "phone": _digits(spec["from"]), "mes": spec["text"],
                      "to": _digits(spec.get("to") or self.number), "sent": now, "time": now}
            self.incoming_messages.append(dict(fields))
        return self._post(fields)


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--login", default="hub")
        parser.add_argument("--password", default=None)
        parser.add_argument("--balance", type=float, default=1000)
        parser.add_argument("--hub-webhook-url", default="")

    run_cli(lambda a: SmscEmulator(rate_limit=a.rate_limit, login=a.login, password=a.password, balance=a.balance,
                                   hub_webhook_url=a.hub_webhook_url),
            "SMSC.ru HTTP API emulator", add_arguments)


if __name__ == "__main__":
    main()
