"""Subscriptions in the admin: plans, subscriptions (issued by hand through the add form,
frozen and unfrozen by actions with dates from the action bar — the service's refusals
shown as messages), and the read-only list of visits."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from loyalty.admin.ledger import ReadOnlyMixin
from loyalty.models import Subscription, SubscriptionPlan, SubscriptionVisit
from loyalty.services.subscriptions import subscription_freeze, subscription_issue, subscription_unfreeze


class PlanForm(forms.ModelForm):
    class Meta:
        model = SubscriptionPlan
        fields = ("name", "kind", "visits", "days", "service_points", "products", "max_freeze_days", "sold_as",
                  "active")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, visits = data.get("kind"), data.get("visits")
        if kind == SubscriptionPlan.Kind.VISITS and not visits:
            self.add_error("visits", _("A plan of N visits needs the number of visits."))
        if kind == SubscriptionPlan.Kind.UNLIMITED and visits:
            self.add_error("visits", _("An unlimited plan has no number of visits: leave it empty."))
        if data.get("days") is not None and data["days"] < 1:
            self.add_error("days", _("At least one day."))
        sold_as = data.get("sold_as")
        if sold_as is not None and SubscriptionPlan.objects.filter(sold_as=sold_as).exclude(
                pk=self.instance.pk).exists():
            self.add_error("sold_as", _("Another plan is already sold as this product."))
        return data


@admin.register(SubscriptionPlan)
class SubscriptionPlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = ("name", "kind", "visits", "days", "max_freeze_days", "sold_as", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    filter_horizontal = ("service_points", "products")
    autocomplete_fields = ("sold_as",)


class IssueForm(forms.ModelForm):
    key = forms.CharField(widget=forms.HiddenInput)  # a double-clicked submit issues one subscription

    class Meta:
        model = Subscription
        fields = ("plan", "contact", "starts_on")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].initial = uuid.uuid4().hex
        self.fields["starts_on"].required = False
        self.fields["starts_on"].help_text = _("Empty: today.")
        self.fields["plan"].queryset = SubscriptionPlan.objects.filter(active=True)

    def _post_clean(self) -> None:  # the service builds the row
        pass


class FreezeDates(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=AdminDateWidget)
    date_until = forms.DateField(label=_("until"), required=False, widget=AdminDateWidget)


class FreezeForm(ActionForm, FreezeDates):
    """The action bar with the dates the freeze actions read."""


class VisitInline(ReadOnlyMixin, admin.TabularInline):
    model = SubscriptionVisit
    fields = ("at", "pass_row")
    readonly_fields = fields
    extra = 0


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "plan", "contact", "starts_on", "ends_on", "visits_left", "status", "frozen_from",
                    "frozen_until")
    list_filter = ("status", "plan", "starts_on", "ends_on")
    search_fields = ("contact__phone", "contact__last_name", "issue_key")
    list_select_related = ("plan", "contact")
    autocomplete_fields = ("contact",)
    action_form = FreezeForm
    actions = ["freeze", "unfreeze"]
    inlines = [VisitInline]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = IssueForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("plan", "contact", "starts_on", "key")
        return ("plan", "contact", "starts_on", "ends_on", "visits_left", "status", "frozen_from", "frozen_until",
                "freeze_days_used", "issue_key", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return [f for f in self.get_fields(request, obj) if f != "status"]  # cancel by hand; the rest by services

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        if change:
            return super().save_form(request, form, change)
        data = form.cleaned_data
        return subscription_issue(data["plan"], data["contact"], key=f"admin:{data['key']}",
                                  starts_on=data.get("starts_on"))

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def _dates(self, request: HttpRequest) -> tuple[Any, Any] | None:
        form = FreezeDates(request.POST)
        if not form.is_valid():
            self.message_user(request, _("Dates: %(errors)s") % {"errors": form.errors.as_text()}, messages.ERROR)
            return None
        return form.cleaned_data.get("date_from"), form.cleaned_data.get("date_until")

    @admin.action(description=_("Freeze for the dates (from … until …)"), permissions=["change"])
    def freeze(self, request: HttpRequest, queryset: Any) -> None:
        dates = self._dates(request)
        if dates is None:
            return
        start, end = dates
        if start is None or end is None:
            self.message_user(request, _("Fill in both dates next to the action."), messages.ERROR)
            return
        for subscription in queryset:
            try:
                done = subscription_freeze(subscription, start, end)
            except ValidationError as exc:
                self.message_user(request, f"{subscription}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, _("%(subscription)s: frozen, now valid until %(end)s.")
                                  % {"subscription": done, "end": f"{done.ends_on:%d.%m.%Y}"}, messages.SUCCESS)

    @admin.action(description=_("Unfreeze from the date (from …)"), permissions=["change"])
    def unfreeze(self, request: HttpRequest, queryset: Any) -> None:
        dates = self._dates(request)
        if dates is None:
            return
        if dates[0] is None:
            self.message_user(request, _("Fill in the date next to the action."), messages.ERROR)
            return
        for subscription in queryset:
            try:
                done = subscription_unfreeze(subscription, dates[0])
            except ValidationError as exc:
                self.message_user(request, f"{subscription}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, _("%(subscription)s: unfrozen, now valid until %(end)s.")
                                  % {"subscription": done, "end": f"{done.ends_on:%d.%m.%Y}"}, messages.SUCCESS)


@admin.register(SubscriptionVisit)
class SubscriptionVisitAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("at", "subscription", "pass_row")
    list_select_related = ("subscription__plan", "pass_row")
    search_fields = ("subscription__contact__phone", "subscription__contact__last_name")
    date_hierarchy = "at"
