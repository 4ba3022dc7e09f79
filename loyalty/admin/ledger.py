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
from django.utils.translation import gettext_lazy as _

from hub.admin.history import HistoryAdmin
from hub.admin.segments import ContactFilterForm
from hub.models import Connection, Contact, Outbox
from hub.services.outbox import outbox_replay
from hub.sync import registry
from hub.sync.errors import SyncError
from loyalty.admin.tiers import TierChangeInline, TierInline
from loyalty.models import (
    Account,
    BirthdayBonus,
    Entry,
    GrantLimit,
    Program,
    ProgramOrder,
    ProgramRequest,
    Reconciliation,
)
from loyalty.ports import ProgramError
from loyalty.services.campaigns import mass_accrue, mass_preview
from loyalty.services.grants import bonus_grant, grant_limit_for
from loyalty.services.programs import program_message, program_reconcile, program_request_queue


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "connection", "expiry_days", "lock_days", "max_redeem_share", "tier_metric",
                    "active")
    actions = ["reconcile_now"]
    inlines = [TierInline]
    fieldsets = (
        (None, {"fields": ("name", "code", "active", "connection")}),
        (_("Points"), {"fields": ("earn_percent", "max_redeem_share", "expiry_days", "lock_days", "time_zone")}),
        (_("Levels"), {"fields": ("tier_metric", "tier_window_days", "tier_grace_days", "tier_product_kind",
                                  "tier_category"),
                       "description": _("The levels themselves are listed below.")}),
    )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "connection":
            kwargs["queryset"] = Connection.objects.filter(system__in=[
                system for system, _ in registry.systems() if hasattr(registry.get(system), "bonus_program")])
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.action(description="Сверить с внешней программой сейчас", permissions=["change"])
    def reconcile_now(self, request: HttpRequest, queryset: Any) -> None:
        for program in queryset:
            if program.connection_id is None:
                self.message_user(request, f"«{program}»: внешней программы нет, сверять не с чем.",
                                  messages.WARNING)
                continue
            try:
                report = program_reconcile(program)
            except (ProgramError, SyncError) as exc:
                self.message_user(request, f"«{program}»: {program_message(exc)}", messages.ERROR)
                continue
            self.message_user(request, f"«{program}»: проверено {report.accounts}, исправлено {report.differences}, "
                                       f"не проверено {report.failures}.")


@admin.register(BirthdayBonus)
class BirthdayBonusAdmin(admin.ModelAdmin):
    list_display = ("program", "points", "days_before", "children", "expiry_days", "active")


@admin.register(GrantLimit)
class GrantLimitAdmin(HistoryAdmin):
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
    list_display = ("contact", "program", "balance", "pending", "tier", "tier_value", "synced_at", "updated_at")
    list_filter = ("program", "tier")
    list_select_related = ("contact", "program", "tier")
    search_fields = ("contact__phone", "contact__last_name", "contact__first_name")
    inlines = [TierChangeInline, EntryInline]
    change_list_template = "admin/loyalty/account/change_list.html"

    def get_urls(self) -> list[Any]:
        return [path("grant/", self.admin_site.admin_view(self.grant_view), name="loyalty_grant"),
                path("mass/", self.admin_site.admin_view(self.mass_view), name="loyalty_mass_accrual"),
                *super().get_urls()]

    def mass_view(self, request: HttpRequest) -> HttpResponse:
        """Filter → preview (how many, how many already got it, total) → apply."""
        if not request.user.has_perm("loyalty.mass_accrue"):
            raise PermissionDenied
        form = MassAccrualForm(request.POST or None)
        preview = None
        if request.method == "POST" and form.is_valid():
            data, spec = form.cleaned_data, form.contact_filter()
            try:
                if "apply" in request.POST:
                    granted = mass_accrue(spec, data["points"], campaign=data["campaign"], reason=data["reason"],
                                          actor=request.user)
                    messages.success(request, f"Начислено {granted} клиентам по {data['points']} баллов "
                                              f"(«{data['campaign']}»).")
                    return HttpResponseRedirect(reverse("admin:loyalty_mass_accrual"))
                preview = mass_preview(spec, data["points"], data["campaign"])
            except ValidationError as exc:
                form.add_error(None, exc.messages)
        context = {**self.admin_site.each_context(request), "title": "Массовое начисление баллов", "form": form,
                   "preview": preview, "opts": self.model._meta}
        return TemplateResponse(request, "admin/loyalty/mass_accrual.html", context)

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
                if isinstance(entry, ProgramRequest):  # the program keeps the points: it answers first
                    messages.success(request, f"Передано в программу: {entry.points:+} баллов, {data['contact']}. "
                                              "Статус — в разделе «Запросы во внешние программы».")
                    return HttpResponseRedirect(reverse("admin:loyalty_programrequest_change", args=[entry.pk]))
                messages.success(request, f"Готово: {entry.points:+} баллов, {data['contact']}.")
                return HttpResponseRedirect(reverse("admin:loyalty_account_change", args=[entry.account_id]))
        limit = grant_limit_for(request.user)
        context = {**self.admin_site.each_context(request), "title": "Начислить или списать баллы", "form": form,
                   "limit": limit, "opts": self.model._meta}
        return TemplateResponse(request, "admin/loyalty/grant.html", context)


class MassAccrualForm(ContactFilterForm):
    points = forms.DecimalField(label="Баллов каждому", max_digits=14, decimal_places=2, min_value=0.01)
    campaign = forms.CharField(label="Название начисления", max_length=100,
                               help_text="По названию повторный запуск не начислит дважды.")
    reason = forms.CharField(label="Причина", max_length=255,
                             help_text="Клиент увидит её в истории баллов в личном кабинете.")


class GrantForm(forms.Form):
    contact = forms.ModelChoiceField(Contact.objects.filter(merged_into__isnull=True), label="Клиент",
                                     widget=forms.NumberInput, help_text="Номер (ID) клиента из раздела «Клиенты».")
    points = forms.DecimalField(label="Баллы", max_digits=14, decimal_places=2,
                                help_text="Положительное число начисляет, отрицательное списывает.")
    reason = forms.CharField(label="Причина", max_length=255,
                             help_text="Клиент увидит её в истории баллов в личном кабинете.")
    key = forms.CharField(widget=forms.HiddenInput)  # a double-clicked submit is one grant


@admin.register(Entry)
class EntryAdmin(ReadOnlyMixin, HistoryAdmin):
    """The audit trail: every grant, spend and expiry with who, when and why."""

    list_display = ("created_at", "account", "kind", "points", "reason", "source", "actor")
    list_filter = ("kind", "source", "actor")
    search_fields = ("reason", "idempotency_key", "account__contact__phone", "account__contact__last_name")
    date_hierarchy = "created_at"
    list_select_related = ("account__contact", "actor")


@admin.register(ProgramRequest)
class ProgramRequestAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What the hub asked external programs to do, and what they answered."""

    list_display = ("created_at", "contact", "kind", "points", "reason", "status", "error", "actor")
    list_filter = ("status", "kind", "source", "program")
    search_fields = ("idempotency_key", "order_ref", "reason", "contact__phone", "contact__last_name")
    date_hierarchy = "created_at"
    list_select_related = ("contact", "actor")
    actions = ["send_again"]

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("loyalty.change_programrequest")

    @admin.action(description="Отправить в программу ещё раз", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: Any) -> None:
        again = queryset.exclude(status=ProgramRequest.Status.DONE).select_related("program__connection")
        ids = [item.pk for item in again]
        ProgramRequest.objects.filter(pk__in=ids).update(status=ProgramRequest.Status.PENDING, error="")
        rows = Outbox.objects.filter(action="bonus.request", target_id__in=ids).values_list("pk", flat=True)
        queued = outbox_replay(rows)
        for item in again:
            if item.program.connection is not None:
                queued += program_request_queue([item.pk], item.program.connection)
        self.message_user(request, f"Снова в очереди: {queued}.")


@admin.register(ProgramOrder)
class ProgramOrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "program", "order_ref", "external_id", "redeemed", "earned")
    search_fields = ("order_ref", "external_id")


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("started_at", "program", "accounts", "operations", "differences", "failures", "finished_at")
    list_filter = ("program",)
