"""SMS.ru's HTTP API in one place: paths, parameter names, codes, answer shapes and their
translation to the message-channel port (``mailings.ports``). When SMS.ru behaves otherwise than
written here, this file (and the emulator) is what changes.

Confirmed from public sources:

- Sending — https://sms.ru/api/send (read in its copies tele2.sms.ru/api/send and
  pastebin.com/rdTddG26): ``/sms/send`` by GET or POST with ``api_id``, ``to`` (numbers in
  international format without "+", comma-separated, ≤ 100), ``msg``, ``json=1``, optional
  ``from`` (sender name); answer ``{"status": "OK", "status_code": 100, "sms": {"79255070602":
  {"status": "OK", "status_code": 100, "sms_id": "000000-10000000"}, "74993221627": {"status":
  "ERROR", "status_code": 207, "status_text": "…"}}, "balance": 4122.56}`` — a refusal of one
  number is inside ``sms``, the request itself still "OK".
- Request/refusal codes 100, 200–212, 220, 230, 300–302 and their meanings — the code table of
  sms.ru transcribed in github.com/zelenin/sms_ru ``Response/SmsResponse.php``.
- Delivery codes −1, 100–108 — https://sms.ru/api/status (joomla.sms.ru/api/status: 103
  "Сообщение доставлено", 104 "Не может быть доставлен…") and zelenin/sms_ru
  ``Response/SmsStatusResponse.php``.
- Callbacks — https://sms.ru/?panel=api&subpanel=cb (online.sms.ru copy): SMS.ru POSTs status
  changes to the handler's URL, "на любой запрос этот скрипт должен отвечать цифрой 100".
  SMS.ru's sample handler, as copied into public integrations (e.g. Bitrix's messageservice
  SMS.ru callback, several Laravel controllers): form field ``data[]`` holds entries whose lines
  are ``sms_status\\n<sms_id>\\n<status code>\\n<unix time>`` (or ``callcheck_status\\n…`` for the
  call-check service), and field ``hash`` = sha256(api_id + the entries concatenated) "to check
  the data is genuine".

Assumed (not in what could be read; change here if SMS.ru says otherwise):

- ``/my/balance?json=1`` answers ``{"status": "OK", "status_code": 100, "balance": 123.45}``
  (the JSON form of the documented text answer ``100\\n<balance>``);
- a refused request answers ``{"status": "ERROR", "status_code": N, "status_text": "…"}``
  (HTTP 200); the low-balance code 201 may come for the request or for the number — both read;
- codes 150 (no route to the number), 110 (read), 231/232 (identical messages to one number
  per minute/day) — named in SMS.ru's tables as we remember them, not re-read here;
- SMS.ru publishes no request-rate limit: ``DEFAULT_RATE_LIMIT`` keeps one account's sending
  to a steady 5 requests a second (one message each), far above a venue's mailing needs and
  gentle on a shared account; a 429 (never documented) would carry ``Retry-After`` or mean a
  short pause;
- the callback is form-encoded UTF-8; a ``hash`` is checked when present, a callback without
  one is accepted (the connection's unguessable webhook key is then the only secret).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.channels.problems import AUTH, BALANCE_LOW, FATAL, LIMIT, REFUSED, RETRY, SETUP, Problem
from mailings.ports import DELIVERED, FAILED, READ, SENT, SendRefused

DEFAULT_BASE_URL = "https://sms.ru"
DEFAULT_RATE_LIMIT = "5/second"
RATE_LIMIT_PAUSE = 10.0  # seconds, after a 429 without Retry-After
DAILY_LIMIT_PAUSE = 3600.0  # seconds, after "daily limit reached" (206)

SEND = "/sms/send"
BALANCE = "/my/balance"
STATUS = "/sms/status"

OK = "OK"
CODE_OK = 100

ERRORS: dict[int, Problem] = {
    200: Problem(AUTH, "SMS.ru не принял api_id: проверьте ключ в настройках подключения."),
    201: Problem(BALANCE_LOW, "На счёте SMS.ru не хватает денег: пополните баланс — сообщения уйдут после "
                              "пополнения."),
    202: Problem(REFUSED, "SMS.ru: неправильно указан номер получателя."),
    203: Problem(REFUSED, "SMS.ru: у сообщения нет текста."),
    204: Problem(SETUP, "SMS.ru: имя отправителя не согласовано с SMS.ru — согласуйте его в кабинете SMS.ru или "
                        "уберите из настроек подключения."),
    205: Problem(REFUSED, "SMS.ru: сообщение слишком длинное (больше 8 SMS)."),
    206: Problem(LIMIT, "SMS.ru: достигнут дневной лимит отправки сообщений.", DAILY_LIMIT_PAUSE),
    207: Problem(REFUSED, "SMS.ru: на этот номер нельзя отправлять сообщения."),
    208: Problem(FATAL, "SMS.ru: неверно указано время отправки."),
    209: Problem(REFUSED, "SMS.ru: номер в стоп-листе аккаунта."),
    210: Problem(FATAL, "SMS.ru требует POST там, где хаб отправил GET."),
    211: Problem(FATAL, "SMS.ru: метод не найден."),
    212: Problem(FATAL, "SMS.ru: текст передан не в кодировке UTF-8."),
    220: Problem(RETRY, "SMS.ru временно недоступен; отправка будет повторена."),
    230: Problem(REFUSED, "SMS.ru: на один номер нельзя отправить больше 60 сообщений в день."),
    231: Problem(REFUSED, "SMS.ru: такое же сообщение на этот номер уже отправлялось в эту минуту."),
    232: Problem(REFUSED, "SMS.ru: такое же сообщение на этот номер уже отправлялось сегодня."),
    300: Problem(AUTH, "SMS.ru: неправильный токен (истёк или сменился IP)."),
    301: Problem(AUTH, "SMS.ru: неправильный пароль или пользователь не найден."),
    302: Problem(AUTH, "SMS.ru: аккаунт не подтверждён."),
}


def problem(code: int, text: str = "") -> Problem:
    """What SMS.ru's refusal ``code`` means; an unknown one is retried (and shown with its text)."""
    known = ERRORS.get(code)
    if known is not None:
        return known
    detail = f": {text}" if text else ""
    return Problem(RETRY, f"SMS.ru отказал с кодом {code}{detail}.")


# delivery statuses (the callback's and /sms/status's codes) ---------------------------------
STATUSES: dict[int, tuple[str, str]] = {
    -1: (FAILED, "SMS.ru не нашёл сообщение."),
    100: (SENT, ""),  # in SMS.ru's queue
    101: (SENT, ""),  # being passed to the operator
    102: (SENT, ""),  # sent, in transit
    103: (DELIVERED, ""),
    104: (FAILED, "Не доставлено: истёк срок жизни сообщения (телефон был недоступен)."),
    105: (FAILED, "Не доставлено: удалено оператором."),
    106: (FAILED, "Не доставлено: сбой в телефоне получателя."),
    107: (FAILED, "Не доставлено по неизвестной причине."),
    108: (FAILED, "Не доставлено: отклонено."),
    110: (READ, ""),
    150: (FAILED, "Не доставлено: не найден маршрут на этот номер."),
}


def delivery(code: int) -> tuple[str, str] | None:
    """(neutral status, Russian reason or "") of a delivery code; None for a code not known."""
    return STATUSES.get(code)


# callbacks ------------------------------------------------------------------------------------
CALLBACK_ANSWER = "100"  # anything else and SMS.ru considers the handler broken
CALLBACK_DATA = re.compile(r"^data\[\d*\]$")  # data[] or data[0], data[1]…, in the body's order
CALLBACK_HASH = "hash"
ENTRY_STATUS = "sms_status"
MAX_ENTRIES = 1000


def status_event_key(sms_id: str, code: int) -> str:
    return f"smsru:status:{sms_id}:{code}"


# values -----------------------------------------------------------------------------------------
_PHONE = re.compile(r"^\+[1-9]\d{9,14}$")


def provider_phone(address: str) -> str:
    """The hub's E.164 ``+79161234567`` as SMS.ru takes it: digits only."""
    value = (address or "").strip()
    if not _PHONE.match(value):
        raise SendRefused("Номер получателя не в международном формате (+7…): SMS.ru его не примет.")
    return value[1:]


def money(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number.quantize(Decimal("0.01")) if number.is_finite() else None


def code_of(value: Any) -> int | None:
    """SMS.ru's numeric codes come as numbers or numeric strings."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
