"""Receipts the engine confirmed (read-only, with how each was computed) and the "calculate a
receipt" page: an operator runs a receipt through the rules as a till would, without
writing anything, and sees what it would cost, pay and earn, and why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from hub.models import Contact, Product, ServicePoint
from hub.services.contacts import contact_by_identity, contact_resolve
from hub.services.normalize import phone_normalize
from loyalty.admin.ledger import ReadOnlyMixin
from loyalty.models import Program, Receipt, ReceiptLine, RuleHit
from loyalty.services.receipts import ReceiptRequest, receipt_calculate

LINES = 5


class ReceiptLineInline(ReadOnlyMixin, admin.TabularInline):
    model = ReceiptLine
    fields = ("product", "category", "quantity", "amount", "discount", "points")
    readonly_fields = fields
    extra = 0


class RuleHitInline(ReadOnlyMixin, admin.TabularInline):
    model = RuleHit
    fields = ("rule", "points", "cashback")
    readonly_fields = fields
    extra = 0


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("ref", "at", "contact", "program", "total", "discount", "paid", "points_redeemed",
                    "points_earned", "cashback", "tier", "status")
    list_filter = ("program", "status", "tier")
    search_fields = ("ref", "contact__phone")
    date_hierarchy = "at"
    list_select_related = ("contact", "program", "tier")
    readonly_fields = ("explanation",)
    inlines = [ReceiptLineInline, RuleHitInline]
    change_list_template = "admin/loyalty/receipt/change_list.html"

    @admin.display(description=_("how it was computed"))
    def explanation(self, receipt: Receipt) -> str:
        return format_html_join("", "<div>{} {}: {}</div>", (
            ("✓" if step.get("applied") else "✗", step.get("name", ""), step.get("text", ""))
            for step in receipt.trace or []))

    def get_urls(self) -> list[Any]:
        return [path("calculate/", self.admin_site.admin_view(self.calculate_view), name="loyalty_calculate"),
                *super().get_urls()]

    def calculate_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("loyalty.view_receipt"):
            raise PermissionDenied
        form = CalculateForm(request.POST or None)
        calculation = None
        if request.method == "POST" and form.is_valid():
            try:
                calculation = receipt_calculate(form.receipt_request())
            except ValidationError as exc:
                form.add_error(None, exc)
        context = {**self.admin_site.each_context(request), "title": _("Calculate a receipt"), "form": form,
                   "calc": calculation, "opts": self.model._meta, "line_rows": form.line_rows()}
        return TemplateResponse(request, "admin/loyalty/calculate.html", context)


class CalculateForm(forms.Form):
    program = forms.ModelChoiceField(Program.objects.filter(active=True, connection__isnull=True),
                                     label=_("program"))
    client = forms.CharField(label=_("client"), help_text=_("Phone, or the contact's id in the hub."))
    at = forms.DateTimeField(label=_("time"), required=False,
                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                             help_text=_("Empty: now. Another time shows how day and hour rules would apply."))
    service_point = forms.ModelChoiceField(ServicePoint.objects.all(), required=False, label=_("service point"))
    promo_codes = forms.CharField(label=_("promo codes"), required=False, help_text=_("Separated by commas."))
    certificates = forms.CharField(label=_("certificates"), required=False, help_text=_("Separated by commas."))
    points = forms.DecimalField(label=_("pay with points"), required=False, min_value=0, decimal_places=2)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        products = Product.objects.select_related("category").order_by("name")
        for i in range(LINES):
            self.fields[f"product_{i}"] = forms.ModelChoiceField(products, required=False, label=_("product"))
            self.fields[f"quantity_{i}"] = forms.DecimalField(required=False, min_value=Decimal("0.001"),
                                                              initial=1, label=_("quantity"))
            self.fields[f"amount_{i}"] = forms.DecimalField(required=False, min_value=0, decimal_places=2,
                                                            label=_("amount"))
        if not self.is_bound:
            self.fields["program"].initial = Program.objects.filter(code="main").first()

    def line_rows(self) -> list[list[Any]]:
        return [[self[f"product_{i}"], self[f"quantity_{i}"], self[f"amount_{i}"]] for i in range(LINES)]

    def clean_client(self) -> Contact:
        value = self.cleaned_data["client"].strip()
        contact = Contact.objects.filter(pk=int(value)).first() if value.isdigit() and len(value) < 10 else None
        if contact is None:
            try:
                contact = contact_by_identity("phone", phone_normalize(value))
            except ValidationError:
                contact = None
        if contact is None:
            raise ValidationError(_("No client with this phone or id."))
        return contact_resolve(contact)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        lines = []
        for i in range(LINES):
            amount = data.get(f"amount_{i}")
            if amount is None:
                continue
            lines.append((data.get(f"product_{i}"), data.get(f"quantity_{i}") or Decimal(1), amount))
        if not lines:
            raise ValidationError(_("Enter at least one line with an amount."))
        data["lines"] = lines
        return data

    def receipt_request(self) -> ReceiptRequest:
        data = self.cleaned_data
        at = data.get("at")
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at)
        split = [c.strip() for c in (data.get("promo_codes") or "").split(",") if c.strip()]
        certificates = [c.strip() for c in (data.get("certificates") or "").split(",") if c.strip()]
        return ReceiptRequest(program=data["program"], contact=data["client"], lines=data["lines"], at=at,
                              service_point=data.get("service_point"), promo_codes=tuple(split),
                              certificate_codes=tuple(certificates), redeem_points=data.get("points") or Decimal(0))
