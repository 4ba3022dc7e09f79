"""Encrypted model fields for credentials at rest.

Own field instead of a package: the maintained ones either leave JSON keys readable or
swallow decryption errors (returning ciphertext as if it were the secret). Here the whole
JSON document is one Fernet token; keys rotate with MultiFernet (FIELD_ENCRYPTION_KEYS,
newest first), and without explicit keys one is derived from SECRET_KEY (+ fallbacks).
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _derive(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"hub-fields", info=b"credentials")
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secrets_: tuple[str, ...]) -> MultiFernet:
    # Explicit keys encrypt; keys derived from SECRET_KEY (+ fallbacks) always remain as
    # decrypt-only fallbacks, so introducing FIELD_ENCRYPTION_KEYS never locks data out.
    # `manage.py rotate_credentials` re-encrypts everything with the first key.
    material = [k.encode() for k in keys] + [_derive(s) for s in secrets_]
    return MultiFernet([Fernet(k) for k in material])


def fernet() -> MultiFernet:
    return _fernet(
        tuple(settings.FIELD_ENCRYPTION_KEYS),
        (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS),
    )


def encrypt_text(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Cannot decrypt a stored credential: FIELD_ENCRYPTION_KEYS / SECRET_KEY changed "
            "without keeping the old key in the fallbacks."
        ) from exc


class EncryptedJSONField(models.TextField):
    """A JSON document stored as one Fernet token (TEXT column)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return {}
        return json.loads(decrypt_text(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value else {}
            except json.JSONDecodeError as exc:
                from django.core.exceptions import ValidationError

                raise ValidationError(f"Invalid JSON: {exc}") from exc
        return value if value is not None else {}

    def get_prep_value(self, value: Any) -> str:
        return encrypt_text(json.dumps(value if value is not None else {}, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))
