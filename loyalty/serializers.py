"""The loyalty API's request bodies: a receipt as a till or a site sends it."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal(0)}


class ClientSerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    card = serializers.CharField(required=False, allow_blank=True, max_length=64)
    id = serializers.IntegerField(required=False, min_value=1, help_text="The hub's contact id.")

    def validate(self, attrs: dict) -> dict:
        if not any(attrs.get(name) for name in ("phone", "card", "id")):
            raise serializers.ValidationError("Укажите телефон, карту или id клиента.")
        return attrs


class LineSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                help_text="The product's SKU in the hub's catalogue.")
    product = serializers.IntegerField(required=False, min_value=1, help_text="Or the hub's product id.")
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3, min_value=Decimal("0.001"), default=1)
    amount = serializers.DecimalField(**MONEY, help_text="The line's total before discounts.")


class ReceiptSerializer(serializers.Serializer):
    client = ClientSerializer()
    lines = LineSerializer(many=True, allow_empty=False, max_length=500)
    order = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                  help_text="The order's number at the till; required to confirm.")
    at = serializers.DateTimeField(required=False, help_text="When the receipt is made (default: now).")
    promo_codes = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=10,
                                        default=list)
    certificates = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                         max_length=10, default=list)
    points = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, default=Decimal(0),
                                      help_text="Points the client pays with.")


class RefundSerializer(serializers.Serializer):
    order = serializers.CharField(max_length=100)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
