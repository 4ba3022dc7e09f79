"""Earning rules in the admin: ordered by hand in the list; the form groups what a rule does,
to what, where and when, for whom, and refuses settings that could never work."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from loyalty.models import EarningRule, Tier

PERCENT_EFFECTS = (EarningRule.Effect.RATE, EarningRule.Effect.CASHBACK_POINTS, EarningRule.Effect.CASHBACK_DEPOSIT)


class EarningRuleForm(forms.ModelForm):
    class Meta:
        model = EarningRule
        fields = ("program", "name", "position", "active", "effect", "value", "max_points", "stop", "products",
                  "categories", "service_points", "weekdays", "hour_from", "hour_to", "starts_at", "ends_at",
                  "tiers", "segment", "occasion", "birthday_days", "holdout_percent")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "tiers" in self.fields:  # levels of several programs may share a name
            self.fields["tiers"].queryset = Tier.objects.select_related("program").order_by("program", "threshold")
            self.fields["tiers"].label_from_instance = lambda tier: f"{tier.program}: {tier}"

    def clean_weekdays(self) -> str:
        days = (self.cleaned_data.get("weekdays") or "").strip()
        if any(day not in "1234567" for day in days):
            raise ValidationError(_("Only the digits 1 (Monday) to 7 (Sunday), e.g. 67 for weekends."),
                                  code="weekdays")
        return "".join(sorted(set(days)))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        errors: dict[str, ValidationError] = {}
        for name in ("hour_from", "hour_to"):
            hour = data.get(name)
            if hour is not None and hour > 24:
                errors[name] = ValidationError(_("An hour is 0 to 24."), code="hour")
        start, end = data.get("hour_from"), data.get("hour_to")
        if start is not None and start == end and "hour_to" not in errors:
            errors["hour_to"] = ValidationError(
                _("The hours must differ (22 to 2 runs past midnight; leave both empty for all day)."),
                code="hours_equal")
        if data.get("starts_at") and data.get("ends_at") and data["starts_at"] >= data["ends_at"]:
            errors["ends_at"] = ValidationError(_("The end must be after the start."), code="window")
        effect, value = data.get("effect"), data.get("value")
        if value is not None:
            if value <= 0:
                code = "multiplier" if effect == EarningRule.Effect.MULTIPLY else "value"
                errors["value"] = ValidationError(_("The value must be greater than zero."), code=code)
            elif effect in PERCENT_EFFECTS and value > 100:
                errors["value"] = ValidationError(_("A percent is at most 100."), code="percent")
        if data.get("max_points") is not None and data["max_points"] <= Decimal(0):
            errors["max_points"] = ValidationError(_("Leave it empty for no limit, or give a positive number."),
                                                   code="max_points")
        if (data.get("holdout_percent") or 0) > 100:
            errors["holdout_percent"] = ValidationError(_("A percent is at most 100."), code="percent")
        program, tiers = data.get("program"), data.get("tiers")
        if program is not None and tiers:
            foreign = [str(tier) for tier in tiers if tier.program_id != program.pk]
            if foreign:
                errors["tiers"] = ValidationError(
                    _("These levels belong to another program: %(levels)s."), code="tiers",
                    params={"levels": ", ".join(foreign)})
        if errors:
            raise ValidationError(errors)
        return data


@admin.register(EarningRule)
class EarningRuleAdmin(admin.ModelAdmin):
    form = EarningRuleForm
    list_display = ("position", "name", "program", "effect", "value", "occasion", "active")
    list_display_links = ("name",)
    list_editable = ("position",)
    list_filter = ("program", "effect", "active")
    list_select_related = ("program",)
    search_fields = ("name",)
    ordering = ("program", "position", "pk")
    filter_horizontal = ("products", "categories", "service_points", "tiers")
    fieldsets = (
        (None, {"fields": ("program", "name", "position", "active")}),
        (_("Effect"), {"fields": ("effect", "value", "max_points", "stop")}),
        (_("What"), {"fields": ("products", "categories"),
                     "description": _("Empty: every line of the receipt.")}),
        (_("Where and when"), {"fields": ("service_points", "weekdays", ("hour_from", "hour_to"),
                                          ("starts_at", "ends_at"))}),
        (_("Whom"), {"fields": ("tiers", "segment", "occasion", "birthday_days")}),
        (_("Control group"), {"fields": ("holdout_percent",)}),
    )
