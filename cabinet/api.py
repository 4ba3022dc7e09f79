"""The cabinet's JSON API (schema at /api/cabinet/schema/). Thin: validate with a serializer,
call a cabinet service or selector, answer. Every refusal is a 4xx with ``{"detail": reason}``
in Russian.

Signed in = a contact id in the session cookie. JSON bodies only (a cross-site form cannot
send one without a CORS preflight, which this API never grants), and, as with DRF's session
authentication, a signed-in session must also send the CSRF token (header X-CSRFToken, the
``csrftoken`` cookie set at sign-in)."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cabinet import serializers as s
from cabinet.selectors import cabinet_overview
from cabinet.services import (
    Details,
    client_consent_withdraw,
    contact_details_update,
    sign_in_code_check,
    sign_in_code_send,
)
from cabinet.session import session_contact, session_sign_in, session_sign_out
from cabinet.throttles import CodeThrottle, VerifyThrottle
from hub.models import Contact
from hub.parsers import JsonParser, api_exception
from mailings.services.codes import CodeRefused, CodeThrottled

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(s.ErrorSerializer) for code in codes}




class _Csrf(CsrfViewMiddleware):
    def _reject(self, request: Any, reason: str) -> str:  # type: ignore[override]
        return reason


def _problem(detail: str, code: int = status.HTTP_400_BAD_REQUEST, fields: Any = None,
             retry_after: int | None = None) -> Response:
    body: dict[str, Any] = {"detail": detail}
    if fields:
        body["fields"] = fields
    answer = Response(body, status=code)
    if retry_after is not None:
        answer["Retry-After"] = str(retry_after)
    return answer


def _invalid(errors: Any) -> Response:
    """A serializer's or a service's field errors as one sentence plus the fields."""
    if not isinstance(errors, dict):
        errors = {"non_field_errors": errors}
    flat = {name: [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            for name, messages in errors.items()}
    first = next((m for messages in flat.values() for m in messages), "Проверьте данные.")
    return _problem(first, fields=flat)


def _refused(exc: CodeRefused) -> Response:
    if isinstance(exc, CodeThrottled):
        return _problem(exc.reason, status.HTTP_429_TOO_MANY_REQUESTS, retry_after=exc.retry_after)
    return _problem(exc.reason)


class CabinetView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JsonParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method in UNSAFE and session_contact(request) is not None:
            check = _Csrf(lambda r: None)  # type: ignore[arg-type,return-value]
            check.process_request(request._request)
            reason = check.process_view(request._request, None, (), {})  # type: ignore[arg-type]
            if reason:
                raise exceptions.PermissionDenied(
                    "Нет CSRF-токена: пришлите заголовок X-CSRFToken со значением cookie csrftoken.")

    def get_authenticate_header(self, request: Request) -> str:
        return 'Session realm="cabinet"'  # makes "not signed in" a 401, not a 403

    def throttled(self, request: Request, wait: float | None) -> None:
        seconds = max(1, math.ceil(wait or 1))
        raise exceptions.Throttled(seconds, detail=f"Слишком много попыток с вашего адреса. Повторите через "
                                                   f"{seconds} с.")

    def handle_exception(self, exc: Exception) -> Response:
        exc = api_exception(exc)
        if isinstance(exc, exceptions.ParseError):  # DRF's own refusals are translated; the parser's text is not
            exc = exceptions.ParseError("Тело запроса — не JSON.")
        return super().handle_exception(exc)

    def contact(self, request: Request) -> Contact:
        contact = session_contact(request)
        if contact is None:
            raise exceptions.NotAuthenticated("Войдите в личный кабинет.")
        return contact


class CodeView(CabinetView):
    throttle_classes = [CodeThrottle]

    @extend_schema(request=s.CodeRequestSerializer, responses={200: s.CodeSentSerializer, **_errors(400, 429)},
                   summary="Прислать код для входа", auth=[])
    def post(self, request: Request) -> Response:
        form = s.CodeRequestSerializer(data=request.data)
        if not form.is_valid():
            return _invalid(form.errors)
        try:
            sent = sign_in_code_send(form.validated_data["phone"], form.validated_data["via"])
        except CodeRefused as exc:
            return _refused(exc)
        expires_in = max(0, int((sent.expires_at - timezone.now()).total_seconds()))
        where = "в Telegram" if sent.channel == "telegram" else "по SMS"
        return Response({"channel": sent.channel, "expires_in": expires_in,
                         "detail": f"Код отправлен {where}. Он действует 10 минут."})


class VerifyView(CabinetView):
    throttle_classes = [VerifyThrottle]

    @extend_schema(request=s.VerifySerializer, responses={200: s.SignedInSerializer, **_errors(400, 429)},
                   summary="Войти по коду", auth=[])
    def post(self, request: Request) -> Response:
        form = s.VerifySerializer(data=request.data)
        if not form.is_valid():
            return _invalid(form.errors)
        try:
            contact = sign_in_code_check(form.validated_data["phone"], form.validated_data["code"])
        except CodeRefused as exc:
            return _refused(exc)
        session_sign_in(request._request, contact)  # new session key and CSRF cookie
        return Response({"detail": "Вы вошли в личный кабинет.", "contact": s.ContactSerializer(contact).data})


class LogoutView(CabinetView):
    @extend_schema(request=None, responses={200: s.DetailSerializer, **_errors(403)},
                   summary="Выйти", auth=[])
    def post(self, request: Request) -> Response:
        session_sign_out(request._request)
        return Response({"detail": "Вы вышли из личного кабинета."})


class MeView(CabinetView):
    @extend_schema(responses={200: s.MeSerializer, **_errors(401)},
                   summary="Карточка клиента: баллы, дети, брони, покупки, согласия", auth=[])
    def get(self, request: Request) -> Response:
        contact = self.contact(request)
        get_token(request._request)  # a client that lost the CSRF cookie gets it again
        return Response(s.MeSerializer(cabinet_overview(contact)).data)

    @extend_schema(request=s.ContactUpdateSerializer, responses={200: s.MeSerializer, **_errors(400, 401, 403)},
                   summary="Изменить контактные данные (уходят в Лайм и CRM)", auth=[])
    def patch(self, request: Request) -> Response:
        contact = self.contact(request)
        form = s.ContactUpdateSerializer(data=request.data, partial=True)
        if not form.is_valid():
            return _invalid(form.errors)
        try:
            contact = contact_details_update(contact, Details(**form.validated_data))
        except ValidationError as exc:
            return _invalid(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
        return Response(s.MeSerializer(cabinet_overview(contact)).data)


class WithdrawView(CabinetView):
    @extend_schema(request=s.WithdrawSerializer, responses={200: s.WithdrawnSerializer, **_errors(400, 401, 403)},
                   summary="Отозвать согласие", auth=[])
    def post(self, request: Request) -> Response:
        contact = self.contact(request)
        form = s.WithdrawSerializer(data=request.data)
        if not form.is_valid():
            return _invalid(form.errors)
        result = client_consent_withdraw(contact, form.validated_data["purpose"])
        if result.sign_out:
            session_sign_out(request._request)
        return Response({"purpose": result.purpose, "withdrawn": result.withdrawn, "signed_out": result.sign_out,
                         "detail": result.detail})
