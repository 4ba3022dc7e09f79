"""A checked upload kept server-side under a random token until it is applied.

The apply step re-reads the very file that was checked (never a parsed payload sent back by
the browser). The raw file holds personal data, so it lives only until it is applied or a day
has passed; the record kept beside it has the state, row numbers, statuses and messages only.

States: ``checked`` (file kept, report of the check) → ``applying`` (file claimed by the
background apply) → ``done`` (report of the apply, file gone) or ``failed``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

KEEP_SECONDS = 24 * 3600
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
GONE = "Проверенный файл не найден: он уже импортирован или устарел. Загрузите файл снова."
CHECKED, APPLYING, DONE, FAILED = "checked", "applying", "done", "failed"


def _dir() -> Path:
    path = Path(settings.HUB_IMPORTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _paths(token: str) -> tuple[Path, Path, Path]:
    """The kept upload, the same file once claimed for applying, and the record."""
    if not TOKEN.match(token or ""):
        raise ValidationError(GONE)
    base = _dir()
    return base / f"{token}.upload", base / f"{token}.applying", base / f"{token}.json"


def upload_store(data: bytes, *, name: str, table: str, user_id: int, options: dict[str, Any],
                 report: dict[str, Any]) -> str:
    """Keep a checked file and its report; returns the token. Old leftovers are swept first."""
    upload_sweep()
    token = secrets.token_urlsafe(24)
    upload, _, record = _paths(token)
    upload.write_bytes(data)
    os.chmod(upload, 0o600)
    _write(record, {"name": name, "table": table, "user": user_id, "options": options, "state": CHECKED,
                    "created": time.time(), "report": report})
    return token


def upload_record(token: str, *, table: str, user_id: int) -> dict[str, Any]:
    """The token's record, only for the user who uploaded it and for the same table; with
    ``pending`` telling whether the checked file is still there to apply."""
    upload, _, record = _paths(token)
    data = _read(record)
    if data is None or data.get("table") != table or data.get("user") != user_id:
        raise ValidationError(GONE)
    return {**data, "pending": data.get("state") == CHECKED and upload.exists()}


def upload_claim(token: str, *, table: str, user_id: int) -> None:
    """Mark the file as being applied; a second (double-clicked) apply finds it gone."""
    upload_record(token, table=table, user_id=user_id)
    upload, applying, record = _paths(token)
    try:
        upload.rename(applying)
    except OSError as exc:
        raise ValidationError(GONE) from exc
    _update(record, state=APPLYING, started=time.time())


def upload_take(token: str) -> tuple[bytes, dict[str, Any]] | None:
    """For the background apply: the claimed file and its record; None when already done
    (a task delivered twice)."""
    _, applying, record = _paths(token)
    data = _read(record)
    if data is None or data.get("state") != APPLYING or not applying.exists():
        return None
    return applying.read_bytes(), data


def upload_finish(token: str, *, report: dict[str, Any] | None, error: str = "") -> None:
    """Keep the apply's report (or why it stopped) and drop the personal data."""
    _, applying, record = _paths(token)
    _update(record, state=FAILED if error else DONE, error=error, finished=time.time(),
            **({"report": report} if report is not None else {}))
    applying.unlink(missing_ok=True)


def upload_sweep(now: float | None = None) -> None:
    """Remove what was checked but never applied, and old records."""
    limit = (now or time.time()) - KEEP_SECONDS
    for path in _dir().iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _update(path: Path, **changes: Any) -> None:
    data = _read(path) or {}
    _write(path, {**data, **changes})


def _write(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.chmod(temporary, 0o600)
    temporary.replace(path)
