"""Purchase limits in the admin: what is limited, how it is counted, over which period."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from loyalty.models import PurchaseLimit


class PurchaseLimitForm(forms.ModelForm):
    class Meta:
        model = PurchaseLimit
        fields = ("program", "name", "active", "measure", "max_value", "period", "days", "products", "categories")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        cap = data.get("max_value")
        if cap is not None and cap <= 0:
            self.add_error("max_value", "Лимит должен быть больше нуля.")
        elif cap is not None and data.get("measure") == PurchaseLimit.Measure.RECEIPTS and cap != int(cap):
            self.add_error("max_value", "Число чеков — целое.")
        rolling = data.get("period") == PurchaseLimit.Period.ROLLING
        if rolling and not data.get("days"):
            self.add_error("days", "Для периода «последние N дней» укажите N (больше нуля).")
        elif not rolling and data.get("days") is not None:
            self.add_error("days", "Число дней задаётся только для периода «последние N дней».")
        return data


@admin.register(PurchaseLimit)
class PurchaseLimitAdmin(admin.ModelAdmin):
    form = PurchaseLimitForm
    list_display = ("name", "program", "measure", "max_value", "period", "days", "active")
    list_filter = ("active", "program", "measure", "period")
    search_fields = ("name",)
    filter_horizontal = ("products", "categories")
    fields = ("program", "name", "active", "measure", "max_value", "period", "days", "products", "categories")
