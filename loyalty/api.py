"""The loyalty API for tills and sites (/api/loyalty/, schema at /api/loyalty/schema/):
calculate a receipt, confirm it, refund it. A key per till (Admin → API keys) names the
program and the service point. Thin: parse, call the receipt engine, answer; every refusal
is a 4xx with ``{"detail": reason}`` in Russian, and a refused confirm or refund body is
kept in the inbox for audit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.models import Card, Contact, Product
from hub.parsers import JsonParser, api_exception
from hub.services.contacts import contact_by_identity, contact_resolve
from hub.services.inbox import inbox_reject
from hub.services.normalize import phone_normalize
from loyalty import serializers as s
from loyalty.models import ApiKey, Receipt
from loyalty.services.api_keys import api_key_check
from loyalty.services.receipts import (
    ReceiptRefused,
    ReceiptRequest,
    receipt_calculate,
    receipt_confirm,
    receipt_refund,
)


class KeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        key = api_key_check(header[7:].strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Ключ API не подходит или отключён.")
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="loyalty"'


class HasKey(BasePermission):
    message = "Нужен ключ API: заголовок Authorization: Bearer <ключ>."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


class NotFound(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def _problem(detail: str, code: int = status.HTTP_400_BAD_REQUEST, **extra: Any) -> Response:
    return Response({"detail": detail, **extra}, status=code)


class LoyaltyView(APIView):
    authentication_classes = [KeyAuthentication]
    permission_classes = [HasKey]
    parser_classes = [JsonParser]
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []
    keep_refused = False  # writes keep what they refused

    def handle_exception(self, exc: Exception) -> Response:
        exc = api_exception(exc)
        if isinstance(exc, exceptions.ParseError):
            exc = exceptions.ParseError("Тело запроса — не JSON.")
        if isinstance(exc, exceptions.NotAuthenticated):
            exc = exceptions.NotAuthenticated(HasKey.message)
        return super().handle_exception(exc)

    def refused(self, request: Request, answer: Response) -> Response:
        if self.keep_refused and isinstance(request.auth, ApiKey):
            inbox_reject(source=f"loyalty-api:{request.auth.pk}", kind=self.__class__.__name__,
                         raw_body=request._request.body.decode(errors="replace"), reason=answer.data["detail"])
        return answer

    def body(self, request: Request, serializer_class: type[s.serializers.Serializer]) -> dict[str, Any] | Response:
        serializer = serializer_class(data=request.data)
        if not serializer.is_valid():
            fields = serializer.errors
            first = next(iter(_located(fields)), "Проверьте данные.")
            return self.refused(request, _problem(first, fields=fields))
        return serializer.validated_data


def _messages(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [m for value in errors.values() for m in _messages(value)]
    if isinstance(errors, list):
        return [m for value in errors for m in _messages(value)]
    return [str(errors)]


def _located(errors: Any, where: str = "") -> list[str]:
    """Serializer errors as "lines[0].amount: reason" (the till's developer sees which value)."""
    if isinstance(errors, dict):
        return [m for name, value in errors.items()
                for m in _located(value, where if name == "non_field_errors" else f"{where}.{name}".lstrip("."))]
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors):
        return [m for i, value in enumerate(errors) for m in _located(value, f"{where}[{i}]")]
    if isinstance(errors, list):
        return [m for value in errors for m in _located(value, where)]
    return [f"{where}: {errors}" if where else str(errors)]


def _client(data: dict[str, Any]) -> Contact:
    if data.get("id"):
        contact = Contact.objects.filter(pk=data["id"]).first()
    elif data.get("card"):
        card = Card.objects.select_related("contact").filter(code=data["card"].strip()).first()
        contact = card.contact if card is not None else None
    else:
        try:
            contact = contact_by_identity("phone", phone_normalize(data["phone"]))
        except ValidationError:
            raise NotFound("Телефон не распознан: пришлите его в международном формате.") from None
    if contact is None:
        raise NotFound("Клиент не найден: зарегистрируйте его в программе (бот, сайт, касса) и повторите.")
    return contact_resolve(contact)


def _lines(rows: list[dict[str, Any]]) -> list[tuple[Product | None, Any, Any]]:
    skus = {row["sku"] for row in rows if row.get("sku")}
    ids = {row["product"] for row in rows if row.get("product")}
    by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus).select_related("category__parent")
              .order_by("-pk")}
    by_id = Product.objects.select_related("category__parent").in_bulk(ids)
    lines = []
    for row in rows:
        product = by_sku.get(row.get("sku") or "") or by_id.get(row.get("product") or 0)
        if product is None and (row.get("sku") or row.get("product")):
            raise NotFound(f"Товар {row.get('sku') or row.get('product')} не найден в каталоге хаба.")
        lines.append((product, row["quantity"], row["amount"]))
    return lines


def _request(key: ApiKey, data: dict[str, Any]) -> ReceiptRequest:
    return ReceiptRequest(program=key.program, contact=_client(data["client"]), lines=_lines(data["lines"]),
                          ref=_ref(key, data.get("order", "")), at=data.get("at"), service_point=key.service_point,
                          promo_codes=tuple(data["promo_codes"]), certificate_codes=tuple(data["certificates"]),
                          redeem_points=data["points"])


def _ref(key: ApiKey, order: str) -> str:
    """Each till numbers its own orders: the hub keeps them apart by the key."""
    return f"k{key.pk}:{order.strip()}" if order.strip() else ""


def _receipt(receipt: Receipt) -> dict[str, Any]:
    return {"order": receipt.ref.split(":", 1)[1], "receipt": receipt.pk, "status": receipt.status,
            "total": str(receipt.total),
            "discount": str(receipt.discount), "certificates": str(receipt.certificates),
            "points_redeemed": str(receipt.points_redeemed), "to_pay": str(receipt.paid),
            "points_earned": str(receipt.points_earned), "cashback": str(receipt.cashback)}


_ERRORS = {code: OpenApiResponse(s.ErrorSerializer) for code in (400, 401, 404, 409)}


class CalculateView(LoyaltyView):
    @extend_schema(request=s.ReceiptSerializer, responses={200: dict, **_ERRORS},
                   summary="What a receipt costs, pays and earns, and why (nothing is written)")
    def post(self, request: Request) -> Response:
        data = self.body(request, s.ReceiptSerializer)
        if isinstance(data, Response):
            return data
        try:
            return Response(receipt_calculate(_request(request.auth, data)).as_dict())
        except NotFound as exc:
            return _problem(exc.detail, status.HTTP_404_NOT_FOUND)
        except ValidationError as exc:
            return _problem(_messages(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)[0])


class ConfirmView(LoyaltyView):
    keep_refused = True

    @extend_schema(request=s.ReceiptSerializer, responses={201: dict, **_ERRORS},
                   summary="Confirm a receipt: pay with points, codes and certificates, earn points (idempotent "
                           "by order)")
    def post(self, request: Request) -> Response:
        data = self.body(request, s.ReceiptSerializer)
        if isinstance(data, Response):
            return data
        if not data.get("order", "").strip():
            return self.refused(request, _problem("Укажите номер заказа (order).", fields={"order": ["required"]}))
        try:
            receipt = receipt_confirm(_request(request.auth, data))
        except NotFound as exc:
            return self.refused(request, _problem(exc.detail, status.HTTP_404_NOT_FOUND))
        except ReceiptRefused as exc:
            return self.refused(request, _problem(exc.refusals[0].reason, status.HTTP_409_CONFLICT,
                                                  refusals=[r.as_dict() for r in exc.refusals]))
        except ValidationError as exc:
            return self.refused(request, _problem(
                _messages(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)[0]))
        return Response(_receipt(receipt), status=status.HTTP_201_CREATED)


class RefundView(LoyaltyView):
    keep_refused = True

    @extend_schema(request=s.RefundSerializer, responses={200: dict, **_ERRORS},
                   summary="Refund a whole receipt (idempotent)")
    def post(self, request: Request) -> Response:
        data = self.body(request, s.RefundSerializer)
        if isinstance(data, Response):
            return data
        try:
            receipt = receipt_refund(request.auth.program, _ref(request.auth, data["order"]))
        except ValidationError as exc:
            return self.refused(request, _problem(
                _messages(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)[0],
                status.HTTP_404_NOT_FOUND))
        return Response(_receipt(receipt))
