"""API keys of tills and sites: the secret is shown once, when the key is made or renewed."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.models import ApiKey
from loyalty.services.api_keys import api_key_issue


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "program", "service_point", "active", "last_used_at", "created_at")
    list_filter = ("program", "active")
    fields = ("name", "program", "service_point", "active", "prefix", "last_used_at")
    readonly_fields = ("prefix", "last_used_at")
    actions = ["renew"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        self._show(request, obj, api_key_issue(obj))

    def _show(self, request: HttpRequest, key: ApiKey, secret: str) -> None:
        messages.warning(request, _("The key for \"%(name)s\": %(secret)s — copy it now, it is not shown again. "
                                    "The till sends it as the header Authorization: Bearer <key>.")
                         % {"name": key.name, "secret": secret})

    @admin.action(description=_("Issue a new secret (the old one stops working)"), permissions=["change"])
    def renew(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            self._show(request, key, api_key_issue(key))
