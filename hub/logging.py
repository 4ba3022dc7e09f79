"""PII masking for logs: phones, e-mails never leave the process in clear."""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# 10+ digits, optionally with +, spaces, dashes, parentheses: phone-shaped runs.
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s\-()]{8,}\d(?![\w])")


def mask_phone(phone: str | None) -> str:
    """+79123456789 -> +7912*****89: enough to tell numbers apart, not to call."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 6:
        return "***"
    return ("+" if phone.strip().startswith("+") else "") + digits[:4] + "*" * (len(digits) - 6) + digits[-2:]


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


class PiiMaskingFilter(logging.Filter):
    """Masks phone- and e-mail-shaped text in the rendered message and string args."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not kill logging
            return True
        record.msg = mask_text(message)
        record.args = ()
        return True
