"""Loyalty in the admin: programs, role limits, accounts with their history, the audit list
of every entry, and the grant form managers use (within their role's limit)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from hub.models import Contact
from loyalty.models import Account, BirthdayBonus, Entry, GrantLimit, Program
from loyalty.services.grants import bonus_grant, grant_limit_for


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "expiry_days", "lock_days", "max_redeem_share", "active")


@admin.register(BirthdayBonus)
class BirthdayBonusAdmin(admin.ModelAdmin):
    list_display = ("program", "points", "days_before", "children", "expiry_days", "active")


@admin.register(GrantLimit)
class GrantLimitAdmin(admin.ModelAdmin):
    list_display = ("group", "max_points")


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(ReadOnlyMixin, admin.TabularInline):
    model = Entry
    fields = ("created_at", "kind", "points", "reason", "source", "actor", "expires_at", "available_at")
    readonly_fields = fields
    ordering = ("-created_at", "-pk")
    extra = 0


@admin.register(Account)
class AccountAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("contact", "program", "balance", "updated_at")
    list_filter = ("program",)
    search_fields = ("contact__phone", "contact__last_name", "contact__first_name")
    inlines = [EntryInline]
    change_list_template = "admin/loyalty/account/change_list.html"

    def get_urls(self) -> list[Any]:
        return [path("grant/", self.admin_site.admin_view(self.grant_view), name="loyalty_grant"),
                *super().get_urls()]

    def grant_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("loyalty.add_entry"):
            raise PermissionDenied
        form = GrantForm(request.POST or None, initial={"contact": request.GET.get("contact"),
                                                         "key": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                entry = bonus_grant(data["contact"], data["points"], reason=data["reason"], actor=request.user,
                                    idempotency_key=f"admin:{data['key']}")
            except PermissionDenied as exc:
                form.add_error("points", str(exc))
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                messages.success(request, f"Готово: {entry.points:+} баллов, {data['contact']}.")
                return HttpResponseRedirect(reverse("admin:loyalty_account_change", args=[entry.account_id]))
        limit = grant_limit_for(request.user)
        context = {**self.admin_site.each_context(request), "title": "Начислить или списать баллы", "form": form,
                   "limit": limit, "opts": self.model._meta}
        return TemplateResponse(request, "admin/loyalty/grant.html", context)


class GrantForm(forms.Form):
    contact = forms.ModelChoiceField(Contact.objects.filter(merged_into__isnull=True), label="Клиент",
                                     widget=forms.NumberInput, help_text="Номер клиента (см. раздел «Контакты»).")
    points = forms.DecimalField(label="Баллы", max_digits=14, decimal_places=2,
                                help_text="Положительное число начисляет, отрицательное списывает.")
    reason = forms.CharField(label="Причина", max_length=255)
    key = forms.CharField(widget=forms.HiddenInput)  # a double-clicked submit is one grant


@admin.register(Entry)
class EntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The audit trail: every grant, spend and expiry with who, when and why."""

    list_display = ("created_at", "account", "kind", "points", "reason", "source", "actor")
    list_filter = ("kind", "source", "actor")
    search_fields = ("reason", "idempotency_key", "account__contact__phone", "account__contact__last_name")
    date_hierarchy = "created_at"
    list_select_related = ("account__contact", "actor")
