"""Lifecycle in the admin: the thresholds (one row), each client's current stage and the log
of stage changes. Stages are computed by the daily job, so they are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from hub.models import ClientLifecycle, LifecycleChange, LifecyclePolicy


@admin.register(LifecyclePolicy)
class LifecyclePolicyAdmin(admin.ModelAdmin):
    """A single row: it can be added while there is none and never deleted (the daily job
    would recreate the defaults)."""

    list_display = ("__str__", "new_days", "lapsing_after_days", "lost_after_days", "returned_days")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not LifecyclePolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClientLifecycle)
class ClientLifecycleAdmin(ReadOnlyAdmin):
    list_display = ("contact", "stage", "since", "last_activity_at", "computed_on")
    list_filter = ("stage", "since", "computed_on")
    search_fields = ("=contact__id", "contact__phone", "contact__last_name")
    list_select_related = ("contact",)
    search_help_text = _("Contact number, phone or last name.")


@admin.register(LifecycleChange)
class LifecycleChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_on", "contact", "from_stage", "to_stage")
    list_filter = ("to_stage", "from_stage", "changed_on")
    search_fields = ("=contact__id", "contact__phone", "contact__last_name")
    list_select_related = ("contact",)
    date_hierarchy = "changed_on"
