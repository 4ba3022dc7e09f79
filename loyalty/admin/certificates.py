"""Certificates in the admin: types (fixed or open amount, what they pay for, the product
that sells them), certificates (issued by hand through the add form, blocked by an action;
the balance moves only by operations), and the read-only list of operations."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.admin.ledger import ReadOnlyMixin
from loyalty.models import Certificate, CertificateOperation, CertificateType
from loyalty.services.certificates import certificate_amount_check, certificate_block, certificate_issue


class CertificateTypeForm(forms.ModelForm):
    class Meta:
        model = CertificateType
        fields = ("program", "name", "active", "amount", "min_amount", "max_amount", "valid_days", "products",
                  "categories", "sold_as")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        amount, low, high = data.get("amount"), data.get("min_amount"), data.get("max_amount")
        if amount is not None and (low is not None or high is not None):
            raise ValidationError(_("Either a fixed amount or the bounds of an open amount, not both."))
        if amount is None and (low is None or high is None):
            raise ValidationError(_("Set a fixed amount, or both bounds of an open amount."))
        if amount is not None and amount <= 0:
            self.add_error("amount", _("The amount must be greater than zero."))
        if low is not None and high is not None:
            if low <= 0:
                self.add_error("min_amount", _("The amount must be greater than zero."))
            if low > high:
                self.add_error("max_amount", _("The upper bound is below the lower one."))
        sold_as = data.get("sold_as")
        if sold_as is not None and CertificateType.objects.filter(sold_as=sold_as).exclude(
                pk=self.instance.pk).exists():
            self.add_error("sold_as", _("Another certificate type is already sold as this product."))
        return data


@admin.register(CertificateType)
class CertificateTypeAdmin(admin.ModelAdmin):
    form = CertificateTypeForm
    list_display = ("name", "program", "amount", "min_amount", "max_amount", "valid_days", "sold_as", "active")
    list_filter = ("active", "program")
    search_fields = ("name",)
    filter_horizontal = ("products", "categories")
    autocomplete_fields = ("sold_as",)
    fieldsets = (
        (None, {"fields": ("program", "name", "active")}),
        (_("Amount"), {"fields": ("amount", "min_amount", "max_amount"),
                       "description": _("A fixed amount, or the bounds of an amount the buyer chooses.")}),
        (_("Validity"), {"fields": ("valid_days",)}),
        (_("Pays for"), {"fields": ("products", "categories"),
                         "description": _("Empty: the certificate pays for any line of a receipt.")}),
        (_("Sale"), {"fields": ("sold_as",)}),
    )


class OperationInline(ReadOnlyMixin, admin.TabularInline):
    model = CertificateOperation
    fields = ("at", "amount", "reason", "receipt")
    readonly_fields = fields
    ordering = ("-at", "-pk")
    extra = 0


class IssueForm(forms.ModelForm):
    """Issuing by hand: the type, the buyer (optional), the amount of an open type."""

    key = forms.CharField(widget=forms.HiddenInput)  # a double-clicked submit issues one certificate

    class Meta:
        model = Certificate
        fields = ("type", "contact", "amount")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].initial = uuid.uuid4().hex
        self.fields["amount"].required = False
        self.fields["amount"].help_text = _("For a type with an open amount; a fixed type's amount is its own.")
        self.fields["type"].queryset = CertificateType.objects.filter(active=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("type") is not None:
            try:
                data["amount"] = certificate_amount_check(data["type"], data.get("amount"))
            except ValidationError as exc:
                self.add_error(None, exc)
        return data

    def _post_clean(self) -> None:  # the service builds the row; the model's own checks are not the form's
        pass


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ("code", "type", "balance", "amount", "valid_until", "status", "contact", "issued_at")
    list_filter = ("status", "type")
    search_fields = ("code",)
    list_select_related = ("type", "contact")
    autocomplete_fields = ("contact",)
    date_hierarchy = "issued_at"
    inlines = [OperationInline]
    actions = ["block"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = IssueForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("type", "contact", "amount", "key")
        return ("code", "type", "amount", "balance", "contact", "issued_at", "valid_until", "status", "issue_key")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.get_fields(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        if change:
            return super().save_form(request, form, change)
        data = form.cleaned_data
        return certificate_issue(data["type"], key=f"admin:{data['key']}", contact=data.get("contact"),
                                 amount=data["amount"])

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    @admin.action(description=_("Block the selected certificates"), permissions=["change"])
    def block(self, request: HttpRequest, queryset: Any) -> None:
        count = 0
        for certificate in queryset.filter(status=Certificate.Status.ACTIVE):
            certificate_block(certificate)
            count += 1
        self.message_user(request, _("Blocked: %(count)s.") % {"count": count}, messages.SUCCESS)


@admin.register(CertificateOperation)
class CertificateOperationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at", "certificate", "amount", "reason", "receipt")
    search_fields = ("certificate__code", "idempotency_key", "reason")
    list_select_related = ("certificate", "receipt")
    date_hierarchy = "at"
