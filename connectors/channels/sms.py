"""What holds for SMS whatever the gateway: how many parts a text takes (the SMS emulators
bill and limit by it)."""

from __future__ import annotations

import math


def sms_parts(text: str) -> int:
    """160/153 characters a part in GSM (Latin), 70/67 in UCS-2 (Cyrillic and the rest)."""
    latin = all(ord(ch) < 128 for ch in text)
    single, multi = (160, 153) if latin else (70, 67)
    return 1 if len(text) <= single else math.ceil(len(text) / multi)
