"""Dedup keys: phones in E.164, e-mails lower-cased, messenger ids as plain strings."""

from __future__ import annotations

import datetime as dt
import re

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _


def phone_normalize(raw: str, region: str | None = None) -> str:
    """'8 (912) 345-67-89' → '+79123456789'; invalid numbers raise ValidationError."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Phone is empty."), code="phone_empty")
    region = region or settings.HUB_DEFAULT_REGION
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Not a phone number: %(reason)s"), code="phone_invalid",
                              params={"reason": str(exc)}) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Not a valid phone number."), code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_key(raw: str) -> str:
    """For comparing (dedup filters, echo fingerprints), never for storing: the E.164 form
    when the number is valid, else the text as given — a bad phone still counts as a value."""
    try:
        return phone_normalize(raw)
    except ValidationError:
        return str(raw).strip()


def email_normalize(raw: str) -> str:
    value = (raw or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValidationError(_("Not a valid e-mail address."), code="email_invalid") from exc
    return value


def date_parse(value: object, field: str = "birth_date") -> dt.date | None:
    """'1990-05-01' (or a datetime string), '01.05.1990', or a Unix timestamp (amoCRM date
    fields) → date; empty → None; anything else a clear error."""
    if not value:
        return None
    text = str(value).strip()
    try:
        if text.isdigit() and len(text) >= 9:
            return timezone.localtime(dt.datetime.fromtimestamp(int(text), tz=dt.UTC)).date()
        if len(text) >= 10 and text[2] == "." and text[5] == ".":
            return dt.datetime.strptime(text[:10], "%d.%m.%Y").date()
        return dt.date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValidationError({field: f"Not a date: {value!r} (expected YYYY-MM-DD or DD.MM.YYYY)."}) from exc


_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")


def datetime_parse(value: object, tz: dt.tzinfo, time_text: str = "", field: str = "starts_at") -> dt.datetime | None:
    """A CRM's date-time as an aware datetime: ISO 8601 (with or without offset),
    'DD.MM.YYYY HH:MM', or a Unix timestamp (amoCRM date and date_time fields); a bare date
    (or a timestamp at midnight in ``tz``, amoCRM's "date") takes ``time_text`` ('18:30').
    Naive values are read in ``tz``."""
    if not value:
        return None
    text = str(value).strip()
    bare_date = len(text) <= 10
    try:
        if text.isdigit() and len(text) >= 9:
            parsed = dt.datetime.fromtimestamp(int(text), tz=dt.UTC).astimezone(tz)
            bare_date = (parsed.hour, parsed.minute, parsed.second) == (0, 0, 0)
        elif len(text) >= 10 and text[2] == "." and text[5] == ".":
            parsed = dt.datetime.strptime(text[:10], "%d.%m.%Y")
            clock = _CLOCK.search(text[10:])
            if clock:
                parsed = parsed.replace(hour=int(clock[1]), minute=int(clock[2]))
        else:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError) as exc:
        raise ValidationError({field: f"Not a date and time: {value!r}."}) from exc
    if bare_date and time_text:
        clock = _CLOCK.fullmatch(time_text.strip())
        if not clock or int(clock[1]) > 23 or int(clock[2]) > 59:
            raise ValidationError({field: f"Not a time: {time_text!r} (expected HH:MM)."})
        parsed = parsed.replace(hour=int(clock[1]), minute=int(clock[2]))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
