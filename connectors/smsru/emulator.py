"""Emulator of SMS.ru's HTTP API (https://sms.ru/api), written from its public description
(contracts/channels.md "SMS" and the sources listed in ``connectors/smsru/mapping.py``), not
from our client.

API. Every method takes its parameters by GET or POST (query or form), ``api_id`` first; with
``json=1`` the answer is JSON, otherwise lines of text. A refused request is still HTTP 200:
``{"status": "ERROR", "status_code": N, "status_text": "…"}``.

- ``/sms/send``: ``to`` (numbers without "+", comma-separated, ≤ 100) and ``msg``, or
  ``to[<number>]=<text>`` per number; optional ``from`` (must be an approved sender name).
  Answer ``{"status": "OK", "status_code": 100, "sms": {"<number>": {"status": "OK",
  "status_code": 100, "sms_id": "000000-10000001"} | {"status": "ERROR", "status_code": 20x,
  "status_text": "…"}}, "balance": 123.45}``. Codes: 200 wrong api_id, 201 not enough money (per
  number), 202 bad recipient, 203 no text, 204 sender not approved, 205 longer than 8 SMS,
  207 number not allowed, 209 number in the stop list.
- ``/my/balance``: ``{"status": "OK", "status_code": 100, "balance": 123.45}``.
- ``/sms/status``: ``sms_id`` (comma-separated) → per id ``{"status": "OK", "status_code":
  102|103|104…, "status_text"}``, an unknown one ``{"status": "ERROR", "status_code": -1}``.

Callbacks. ``POST /_emulator/deliver {"id": <sms_id>, "status": "delivered"|"failed",
"code"?: N}`` marks the message (103 delivered; failed: 104 unless ``code`` says otherwise) and
POSTs SMS.ru's callback to ``webhook_url`` synchronously: form fields ``data[0]`` =
``"sms_status\\n<sms_id>\\n<code>\\n<unix time>"`` and ``hash`` = sha256(api_id + data entries);
it answers ``{"status": <hub's HTTP status>, "body": <hub's answer text>}`` (SMS.ru expects
``100``). SMS.ru's docs show no incoming-SMS callback, so there is none here.

Knobs (``POST /_emulator/faults``, besides the base's faults and ``rate_limit``):
``webhook_url``, ``api_id``, ``balance``, ``price`` (roubles per SMS part), ``invalid`` (numbers
answered 202), ``forbidden`` (207), ``stoplist`` (209), ``senders`` (approved sender names).
Default rate limit: 5 requests a second (SMS.ru publishes none; see mapping.py).

Run: ``python -m connectors.smsru.emulator --port N [--api-id KEY] [--hub-webhook-url URL]``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from connectors.base.emulator import Emulator, json_response, run_cli
from connectors.channels.sms import sms_parts

TEXTS = {
    100: "Сообщение принято к отправке",
    200: "Неправильный api_id",
    201: "Не хватает средств на лицевом счету",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    203: "Нет текста сообщения",
    204: "Имя отправителя не согласовано с администрацией",
    205: "Сообщение слишком длинное (превышает 8 СМС)",
    207: "На этот номер (или один из номеров) нельзя отправлять сообщения, либо указано более 100 номеров "
         "в списке получателей",
    209: "Вы добавили этот номер (или один из номеров) в стоп-лист",
    -1: "Сообщение не найдено",
    102: "Сообщение отправлено (в пути)",
    103: "Сообщение доставлено",
    104: "Не может быть доставлено: время жизни истекло",
    105: "Не может быть доставлено: удалено оператором",
    106: "Не может быть доставлено: сбой в телефоне",
    107: "Не может быть доставлено: неизвестная причина",
    108: "Не может быть доставлено: отклонено",
    150: "Не может быть доставлено: не найден маршрут на данный номер",
}
DELIVERED, EXPIRED = 103, 104
MAX_NUMBERS = 100
MAX_PARTS = 8
NUMBER = re.compile(r"[1-9]\d{9,14}")


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value))


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


class SmsruEmulator(Emulator):
    name = "smsru"
    default_rate_limit = 5

    def __init__(self, *, rate_limit: float | None = None, api_id: str | None = None, balance: float = 1000,
                 price: float = 3.5, hub_webhook_url: str = "") -> None:
        self.api_id = api_id or str(uuid.uuid4()).upper()
        self.initial_balance = Decimal(str(balance))
        self.initial_price = Decimal(str(price))
        self.hub_webhook_url = hub_webhook_url
        self.account = secrets.randbelow(900000) + 100000
        super().__init__(rate_limit=rate_limit)

    # the base's hooks -----------------------------------------------------------------------
    def routes(self) -> list[Rule]:
        any_method = ["GET", "POST"]
        return [Rule("/sms/send", endpoint="send", methods=any_method),
                Rule("/my/balance", endpoint="my_balance", methods=any_method),
                Rule("/sms/status", endpoint="sms_status", methods=any_method),
                Rule("/_emulator/deliver", endpoint="deliver", methods=["POST"])]

    def reset(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.balance = self.initial_balance
        self.price = self.initial_price
        self.invalid: set[str] = set()
        self.forbidden: set[str] = set()
        self.stoplist: set[str] = set()
        self.senders: set[str] = {"SMS.ru"}
        self.sequence = 0

    def credentials(self) -> dict[str, Any]:
        return {"api_id": self.api_id, "webhook_url": self.hub_webhook_url}

    def entities(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "balance": str(self.balance),
                "senders": sorted(self.senders)}

    def control(self, spec: dict[str, Any]) -> None:
        if "webhook_url" in spec:
            self.hub_webhook_url = str(spec["webhook_url"] or "")
        if spec.get("api_id"):
            self.api_id = str(spec["api_id"])
        try:
            if "balance" in spec:
                self.balance = Decimal(str(spec["balance"]))
            if "price" in spec:
                self.price = Decimal(str(spec["price"]))
        except InvalidOperation:
            pass  # a bad knob leaves the value as it was
        for knob in ("invalid", "forbidden", "stoplist"):
            if isinstance(spec.get(knob), list):
                setattr(self, knob, {_digits(p) for p in spec[knob]})
        if isinstance(spec.get("senders"), list):
            self.senders = {str(s) for s in spec["senders"]}

    # answers ----------------------------------------------------------------------------------
    @staticmethod
    def _answer(request: Request, data: dict[str, Any], lines: list[str]) -> Response:
        if request.values.get("json") == "1":
            return json_response(data)
        return Response("\n".join(lines), mimetype="text/plain")

    def _refusal(self, request: Request, code: int) -> Response:
        return self._answer(request, {"status": "ERROR", "status_code": code, "status_text": TEXTS[code]},
                            [str(code)])

    def _authorized(self, request: Request) -> bool:
        return secrets.compare_digest(str(request.values.get("api_id", "")), self.api_id)

    # API ----------------------------------------------------------------------------------------
    def send(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._refusal(request, 200)
        values = request.values
        sender = values.get("from", "")
        targets = [(key[3:-1], text) for key, text in values.items(multi=True)
                   if key.startswith("to[") and key.endswith("]")]
        if not targets:
            numbers = [n.strip() for n in values.get("to", "").split(",") if n.strip()]
            if numbers and not values.get("msg", "").strip():
                return self._refusal(request, 203)
            targets = [(n, values.get("msg", "")) for n in numbers]
        if not targets:
            return self._refusal(request, 202)
        if len(targets) > MAX_NUMBERS:
            return self._refusal(request, 207)
        with self.lock:
            if sender and sender not in self.senders:
                return self._refusal(request, 204)
            results = {number: self._send_one(number, text, sender) for number, text in targets}
            balance = self.balance
        lines = ["100", *[r.get("sms_id") or str(r["status_code"]) for r in results.values()],
                 f"balance={_money(balance)}"]
        return self._answer(request, {"status": "OK", "status_code": 100, "sms": results,
                                      "balance": _money(balance)}, lines)

    def _send_one(self, number: str, text: str, sender: str) -> dict[str, Any]:
        def refused(code: int) -> dict[str, Any]:
            return {"status": "ERROR", "status_code": code, "status_text": TEXTS[code]}

        if not NUMBER.fullmatch(number) or number in self.invalid:
            return refused(202)
        if not text.strip():
            return refused(203)
        if number in self.forbidden:
            return refused(207)
        if number in self.stoplist:
            return refused(209)
        parts = sms_parts(text)
        if parts > MAX_PARTS:
            return refused(205)
        cost = self.price * parts
        if self.balance < cost:
            return refused(201)
        self.balance -= cost
        self.sequence += 1
        sms_id = f"{self.account:06d}-{10000000 + self.sequence}"
        self.messages.append({"id": sms_id, "phone": number, "text": text, "sender": sender, "parts": parts,
                              "cost": str(cost), "status": "sent", "status_code": 102, "sent_at": time.time()})
        return {"status": "OK", "status_code": 100, "sms_id": sms_id}

    def my_balance(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._refusal(request, 200)
        with self.lock:
            balance = _money(self.balance)
        return self._answer(request, {"status": "OK", "status_code": 100, "balance": balance},
                            ["100", str(balance)])

    def sms_status(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._refusal(request, 200)
        ids = [i.strip() for i in request.values.get("sms_id", "").split(",") if i.strip()]
        answers: dict[str, Any] = {}
        with self.lock:
            for sms_id in ids:
                message = self._message(sms_id)
                code = message["status_code"] if message else -1
                answers[sms_id] = {"status": "OK" if message else "ERROR", "status_code": code,
                                   "status_text": TEXTS.get(code, "")}
        return self._answer(request, {"status": "OK", "status_code": 100, "sms": answers},
                            ["100", *[str(a["status_code"]) for a in answers.values()]])

    def _message(self, sms_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m["id"] == sms_id), None)

    # the status callback ----------------------------------------------------------------------
    def deliver(self, request: Request) -> Response:
        spec = request.get_json(force=True, silent=True)
        if not isinstance(spec, dict) or spec.get("status") not in ("delivered", "failed"):
            return json_response({"error": 'expected {"id", "status": "delivered"|"failed"}'}, 400)
        with self.lock:
            message = self._message(str(spec.get("id") or ""))
            if message is None:
                return json_response({"error": f"no message {spec.get('id')!r}"}, 404)
            if not self.hub_webhook_url:
                return json_response({"error": "no webhook_url set"}, 409)
            try:
                code = DELIVERED if spec["status"] == "delivered" else int(spec.get("code") or EXPIRED)
            except (TypeError, ValueError):
                return json_response({"error": "code must be a number"}, 400)
            message.update(status=spec["status"], status_code=code)
            entry = f"sms_status\n{message['id']}\n{code}\n{int(time.time())}"
            body = urlencode([("data[0]", entry),
                              ("hash", hashlib.sha256((self.api_id + entry).encode()).hexdigest())])
            url = self.hub_webhook_url
        status, text = self.post_now(url, body, {"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
        if status is None:
            return json_response({"error": f"the hub could not be reached: {text}"}, 502)
        return json_response({"status": status, "body": text})


def main() -> None:
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--api-id", default=None)
        parser.add_argument("--balance", type=float, default=1000)
        parser.add_argument("--hub-webhook-url", default="")

    run_cli(lambda a: SmsruEmulator(rate_limit=a.rate_limit, api_id=a.api_id, balance=a.balance,
                                    hub_webhook_url=a.hub_webhook_url),
            "SMS.ru HTTP API emulator", add_arguments)


if __name__ == "__main__":
    main()
