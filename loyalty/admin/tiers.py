"""Levels in the admin: edited inline on their program; the history of level changes is
read-only (the level follows the client's activity, it is not set by hand)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.models import Tier, TierChange


class TierInline(admin.TabularInline):
    model = Tier
    fields = ("name", "threshold", "earn_percent", "max_redeem_share", "privileges")
    ordering = ("threshold",)
    extra = 0

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "privileges":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 40})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TierChangeInline(ReadOnly, admin.TabularInline):
    """An account's level history."""

    model = TierChange
    fields = ("changed_at", "from_tier", "to_tier", "value", "reason")
    readonly_fields = fields
    ordering = ("-changed_at", "-pk")
    extra = 0
    verbose_name_plural = _("level history")


@admin.register(TierChange)
class TierChangeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("changed_at", "account", "from_tier", "to_tier", "value", "reason")
    list_filter = ("account__program", "to_tier", "from_tier")
    search_fields = ("account__contact__phone", "account__contact__last_name", "reason")
    date_hierarchy = "changed_at"
    list_select_related = ("account", "from_tier", "to_tier")
