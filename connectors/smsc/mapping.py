"""SMSC.ru's HTTP API in one place: paths, parameter names, codes, answer and callback shapes,
and their translation to the message-channel port (``mailings.ports``). When SMSC behaves
otherwise than written here, this file (and the emulator) is what changes.

Confirmed from public sources:

- Sending — https://smsc.ru/api/http/send/ (English twin https://smscentre.com/api/http/ and
  the parameter table of https://smscentre.com/api/soap/send): ``/sys/send.php`` by GET or POST
  with ``login``, ``psw``, ``phones`` (international format, "+" optional), ``mes``, ``sender``,
  ``fmt=3`` (JSON); ``id`` is "assigned by the Client, serves for further identification of the
  message; if not specified it is assigned automatically; not necessarily unique; a 32-bit
  number 1…2147483647 or a string of up to 40 characters of Latin letters, digits and .-_".
- Answer and error codes — SMSC's send-answer page (copy at s1.sm-s.ru
  …/api/http/send/sms/sms_answer/): with ``fmt=3`` ``{"id", "cnt"}``, or ``{"error",
  "error_code"}`` (with ``"id"`` too for errors 3, 6, 7, 8); codes 1 bad parameters, 2 bad login
  or password, 3 not enough money, 4 IP blocked for frequent errors, 5 bad date, 6 message
  forbidden (text or sender name), 7 bad phone format, 8 cannot be delivered to this number,
  9 more than one identical send request (or five identical cost requests) within a minute.
  The Ruby gem smsc_ru (rubydoc.info/gems/smsc_ru) treats 4 and 9 as "too many requests" too.
- Statuses — https://smscentre.com/api/http/status_messages/ (``/sys/status.php``, fmt=3).
- Callbacks — https://smscentre.com/api/http/miscellaneous/callback/ (smsc.ru/api/http/
  miscellaneous/callback/): a handler URL set in the cabinet is called after each delivery status
  and each incoming SMS; ``?charset=utf-8`` in that URL selects the encoding, the default being
  windows-1251; ``fmt=3`` in it makes the parameters JSON; an md5/sha1/crc32 checksum can be
  requested by a parameter in the URL.
- Error codes inside a status (``err``): 0, 1, 6, 11, 12, 13, 21, 200, 219, 220 as in
  https://smscentre.com/api/smpp/errors (the same table serves the HTTP statuses).

Assumed (named by SMSC's pages as we remember them, not in what could be read here):

- status codes −3 not found, −1 waiting, 0 passed to the operator, 1 delivered, 2 read,
  3 expired, 4 link clicked, 20 impossible to deliver, 22 bad number, 23 forbidden, 24 not
  enough money, 25 unavailable number;
- the callback's fields: a status ``id, phone, status, time, ts, err``; an incoming SMS
  ``sms_id, phone, mes, to, sent, time``; the handler answers HTTP 200 (body ``OK`` here);
- the checksum formula is not confirmed, so it is not checked: the connection's unguessable
  webhook key in the URL is the secret;
- ``/sys/balance.php?fmt=3`` answers ``{"balance": "123.45"}``;
- SMSC's request-rate limits are not published as numbers (only error 9 and error 4):
  ``DEFAULT_RATE_LIMIT`` of 3 requests a second per account keeps us clear of "frequent
  errors"; after error 9 the next try waits a minute (its own wording), after error 4 likewise.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.channels.problems import AUTH, BALANCE_LOW, FATAL, LIMIT, REFUSED, RETRY, Problem
from mailings.ports import DELIVERED, FAILED, READ, SENT, SendRefused

DEFAULT_BASE_URL = "https://smsc.ru"
DEFAULT_RATE_LIMIT = "3/second"
RATE_LIMIT_PAUSE = 10.0  # seconds, after an HTTP 429 without Retry-After
REPEAT_PAUSE = 60.0  # seconds, after error 9 / 4: "within a minute"

SEND = "/sys/send.php"
BALANCE = "/sys/balance.php"
JSON = 3  # fmt=3
CHARSET = "utf-8"

ERRORS: dict[int, Problem] = {
    1: Problem(FATAL, "SMSC: ошибка в параметрах запроса."),
    2: Problem(AUTH, "SMSC не принял логин или пароль: проверьте их в настройках подключения."),
    3: Problem(BALANCE_LOW, "На счёте SMSC не хватает денег: пополните баланс — сообщения уйдут после пополнения."),
    4: Problem(LIMIT, "SMSC временно заблокировал IP-адрес хаба из-за частых ошибок в запросах.", REPEAT_PAUSE),
    5: Problem(FATAL, "SMSC: неверный формат даты отправки."),
    6: Problem(REFUSED, "SMSC запретил сообщение (по тексту или по имени отправителя)."),
    7: Problem(REFUSED, "SMSC: неверный формат номера телефона."),
    8: Problem(REFUSED, "SMSC: сообщение на этот номер не может быть доставлено."),
    9: Problem(LIMIT, "SMSC: слишком много одинаковых запросов за минуту; отправка будет повторена позже.",
               REPEAT_PAUSE),
}


def problem(code: int, text: str = "") -> Problem:
    """What SMSC's ``error_code`` means; an unknown one is retried (and shown with its text)."""
    known = ERRORS.get(code)
    if known is not None:
        return known
    detail = f": {text}" if text else ""
    return Problem(RETRY, f"SMSC отказал с кодом {code}{detail}.")


# delivery statuses ------------------------------------------------------------------------------
STATUSES: dict[int, tuple[str, str]] = {
    -3: (FAILED, "SMSC не нашёл сообщение."),
    -1: (SENT, ""),  # waiting to be sent
    0: (SENT, ""),  # passed to the operator
    1: (DELIVERED, ""),
    2: (READ, ""),
    3: (FAILED, "Не доставлено: истёк срок жизни сообщения (телефон был недоступен)."),
    4: (READ, ""),  # the recipient opened a link in it
    20: (FAILED, "Не доставлено: доставка невозможна."),
    22: (FAILED, "Не доставлено: неверный номер."),
    23: (FAILED, "Не доставлено: отправка запрещена."),
    24: (FAILED, "Не доставлено: на счёте SMSC не хватило денег."),
    25: (FAILED, "Не доставлено: номер недоступен."),
}

#: ``err`` of a failed status: the operator's reason, added to the status's own.
STATUS_ERRORS: dict[int, str] = {
    1: "абонент не существует",
    6: "абонент не в сети",
    11: "у абонента не подключена услуга приёма SMS",
    12: "ошибка в телефоне абонента",
    13: "абонент заблокирован",
    21: "телефон абонента не поддерживает услугу",
    219: "абонент недавно сменил SIM-карту",
    220: "переполнена очередь сообщений абонента у оператора",
}


def delivery(code: int, err: int | None = None) -> tuple[str, str] | None:
    """(neutral status, Russian reason or "") of a status code; None for a code not known."""
    found = STATUSES.get(code)
    if found is None:
        return None
    status, reason = found
    detail = STATUS_ERRORS.get(err) if err else None
    if status == FAILED and detail:
        reason = f"{reason.rstrip('.')} ({detail})."
    elif status == FAILED and err:
        reason = f"{reason.rstrip('.')} (код ошибки {err})."
    return status, reason


# callbacks --------------------------------------------------------------------------------------
CALLBACK_ANSWER = "OK"
CALLBACK_CHARSET = "windows-1251"  # when the handler URL names none
STATUS_FIELDS = ("id", "status")  # a delivery status has these…
INCOMING_FIELDS = ("phone", "mes")  # …an incoming SMS these (and sms_id, to, sent, time)


def status_event_key(message_id: str, code: int) -> str:
    return f"smsc:status:{message_id}:{code}"


def incoming_event_key(fields: dict[str, str]) -> str:
    """SMSC's ``sms_id`` of the incoming SMS; without one, a digest of what identifies it."""
    sms_id = fields.get("sms_id", "").strip()
    if sms_id:
        return f"smsc:incoming:{sms_id}"
    parts = "|".join(fields.get(k, "") for k in ("phone", "to", "sent", "time", "mes"))
    return f"smsc:incoming:h{hashlib.sha256(parts.encode()).hexdigest()[:32]}"


# values -------------------------------------------------------------------------------------------
_PHONE = re.compile(r"^\+[1-9]\d{9,14}$")
_ID = re.compile(r"^[A-Za-z0-9._-]{1,40}$")


def provider_phone(address: str) -> str:
    """The hub's E.164 ``+79161234567`` as sent to SMSC: digits only. (SMSC would take the "+",
    which turns its number auto-correction off; the hub's numbers are already normalised.)"""
    value = (address or "").strip()
    if not _PHONE.match(value):
        raise SendRefused("Номер получателя не в международном формате (+7…): SMSC его не примет.")
    return value[1:]


def message_id(key: str) -> str:
    """SMSC's ``id`` for the hub's message: the key itself when SMSC's rules allow it (≤ 40
    characters of ``A-Za-z0-9._-``, not all digits — those SMSC reads as a number limited to
    1…2147483647), else a digest of it. Not a deduplication: SMSC says the id is "not
    necessarily unique"; it makes SMSC's id of the message known before the call, so a status
    for a message whose send answer was lost still finds it."""
    if _ID.match(key or "") and not key.isdigit():
        return key
    return "h" + hashlib.sha256((key or "").encode()).hexdigest()[:39]


def money(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number.quantize(Decimal("0.01")) if number.is_finite() else None


def code_of(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
