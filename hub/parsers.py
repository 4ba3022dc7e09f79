"""The JSON parsing of the public APIs (cabinet, loyalty): DRF's, except that what a sender can
do to it never becomes a 500 or Django's bare HTML 400. A body nested deeper than the
interpreter can parse is a ParseError like any unreadable body; a body over
DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 that names the limit (``api_exception`` in the views'
``handle_exception``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class JsonParser(JSONParser):
    def parse(self, stream: IO[Any], media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply") from exc


class BodyTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


def api_exception(exc: Exception) -> Exception:
    """The exception DRF should answer for ``exc``: Django's own refusal of a too large body
    (raised before any parser runs) becomes a 413 with a reason."""
    if isinstance(exc, RequestDataTooBig):
        return BodyTooLarge(f"Тело запроса больше {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} байт.")
    return exc
