"""The cabinet API's shapes: what the client sends (validated here, before any service runs) and
what it gets back (built from cabinet.selectors.Overview). They are also the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from hub.models.consent import Purpose

VIA = [("sms", "SMS"), ("telegram", "Telegram")]


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="Причина по-русски, для показа клиенту.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="Ошибки по полям запроса.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class CodeRequestSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="Телефон, как его набрал клиент: +7 912 345-67-89.")
    via = serializers.ChoiceField(choices=VIA, default="sms", help_text="Куда прислать код.")


class CodeSentSerializer(serializers.Serializer):
    channel = serializers.CharField(help_text="sms или telegram: куда ушёл код.")
    expires_in = serializers.IntegerField(help_text="Секунд до истечения кода.")
    detail = serializers.CharField()


class VerifySerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32)
    code = serializers.RegexField(r"^\s*\d{6}\s*$", max_length=16,
                                  error_messages={"invalid": "Код — это 6 цифр из сообщения."})


class ContactSerializer(serializers.Serializer):
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    middle_name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)


class SignedInSerializer(serializers.Serializer):
    detail = serializers.CharField()
    contact = ContactSerializer()


class ContactUpdateSerializer(serializers.Serializer):
    """Empty or absent fields leave the stored value as it is. The phone is the login and is not
    changed here."""

    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    middle_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True,
                                   error_messages={"invalid": "Проверьте e-mail: он набран с ошибкой."})
    birth_date = serializers.DateField(required=False, allow_null=True,
                                       error_messages={"invalid": "Дата рождения в формате ГГГГ-ММ-ДД."})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, dict) and "phone" in self.initial_data:
            raise serializers.ValidationError({"phone": ["Телефон — это ваш логин, здесь он не меняется. "
                                                         "Обратитесь к администратору."]})
        return attrs


class BonusEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    points = serializers.DecimalField(max_digits=14, decimal_places=2)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Когда сгорят эти баллы (пусто: не сгорят).")


class BonusSerializer(serializers.Serializer):
    balance = serializers.DecimalField(max_digits=14, decimal_places=2, source="balance.total")
    expiring_30_days = serializers.DecimalField(max_digits=14, decimal_places=2,
                                                source="balance.expiring_30_days",
                                                help_text="Сгорят в ближайшие 30 дней.")
    history = BonusEntrySerializer(many=True)


class ChildSerializer(serializers.Serializer):
    first_name = serializers.CharField(source="child.first_name")
    last_name = serializers.CharField(source="child.last_name")
    birth_date = serializers.DateField(source="child.birth_date", allow_null=True)
    relation = serializers.CharField()
    relation_label = serializers.CharField(source="get_relation_display")


class BookingSerializer(serializers.Serializer):
    number = serializers.IntegerField(source="pk")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    guests = serializers.IntegerField()
    halls = serializers.ListField(child=serializers.CharField())
    total = serializers.DecimalField(max_digits=12, decimal_places=2)


class PurchaseLineSerializer(serializers.Serializer):
    product_name = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=10, decimal_places=3)
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)


class PurchaseSerializer(serializers.Serializer):
    number = serializers.CharField()
    purchased_at = serializers.DateTimeField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    sales_point = serializers.CharField()
    lines = PurchaseLineSerializer(many=True)


class ConsentSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    purpose_label = serializers.CharField(source="get_purpose_display")
    granted_at = serializers.DateTimeField()
    channel = serializers.CharField()


class MeSerializer(serializers.Serializer):
    contact = ContactSerializer()
    bonus = BonusSerializer(source="*")
    children = ChildSerializer(many=True)
    bookings = BookingSerializer(many=True)
    purchases = PurchaseSerializer(many=True)
    consents = ConsentSerializer(many=True)


class WithdrawSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)


class WithdrawnSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    withdrawn = serializers.IntegerField(help_text="Сколько записей о согласии отозвано.")
    signed_out = serializers.BooleanField()
    detail = serializers.CharField()
