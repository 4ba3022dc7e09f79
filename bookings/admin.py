"""Bookings in the admin: resources, a booking form that checks for clashes before saving
(and books a new client on the spot, deduplicated), and the calendar picture."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from bookings.calendar import calendar_build
from bookings.models import Booking, BookingLine, Preorder, PreorderLine, Resource
from bookings.services import (
    BookingData,
    booking_cancel,
    booking_check,
    booking_save,
    preorder_changed,
)
from hub.admin.history import HistoryAdmin
from hub.models import Contact, ExternalRef
from hub.services.contacts import ContactData, contact_upsert


class PreorderLineInline(admin.TabularInline):
    model = PreorderLine
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Preorder)
class PreorderAdmin(admin.ModelAdmin):
    list_display = ("pk", "contact", "scheduled_for", "status", "total", "updated_at")
    list_filter = ("status",)
    search_fields = ("contact__phone", "contact__last_name", "comment")
    raw_id_fields = ("contact",)
    readonly_fields = ("total",)
    inlines = [PreorderLineInline]
    date_hierarchy = "scheduled_for"

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        preorder_changed(form.instance)


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "capacity", "opens_at", "closes_at", "buffer_minutes", "active")
    list_filter = ("kind", "active")
    search_fields = ("name",)


class BookingForm(forms.ModelForm):
    halls_and_staff = forms.ModelMultipleChoiceField(
        Resource.objects.filter(active=True), label="Залы и сотрудники",
        widget=FilteredSelectMultiple("залы и сотрудники", is_stacked=False))
    new_client_name = forms.CharField(label="Новый клиент: имя", required=False,
                                      help_text="Если клиента нет в списке: имя и телефон. Существующий клиент с "
                                                "этим телефоном будет найден, а не создан второй раз.")
    new_client_phone = forms.CharField(label="Новый клиент: телефон", required=False)

    class Meta:
        model = Booking
        fields = ("contact", "new_client_name", "new_client_phone", "children", "starts_at", "ends_at",
                  "halls_and_staff", "guests", "status", "comment")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].required = False
        if self.instance.pk:
            self.fields["halls_and_staff"].initial = list(self.instance.resources.all())
            self.fields["halls_and_staff"].queryset = Resource.objects.filter(active=True) | Resource.objects.filter(
                pk__in=self.instance.resources.values("pk"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("contact") and not data.get("new_client_phone"):
            raise ValidationError("Выберите клиента или укажите телефон нового клиента.")
        if self.errors or not data.get("starts_at") or not data.get("ends_at"):
            return data
        try:
            booking_check(self.booking_data(data.get("contact") or Contact()),
                          booking=self.instance if self.instance.pk else None)  # clash → the form shows it
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            for name, errors in exc.error_dict.items():  # service names → this form's fields
                field = {"resources": "halls_and_staff"}.get(name, name)
                self.add_error(field if field in self.fields else None, errors)
        return data

    def booking_data(self, contact: Contact) -> BookingData:
        """Products are the inline's: kept as saved (lines=None), never rewritten here."""
        data = self.cleaned_data
        return BookingData(contact=contact, starts_at=data["starts_at"], ends_at=data["ends_at"],
                           resources=list(data["halls_and_staff"]), children=list(data.get("children") or []),
                           guests=data.get("guests") or 0, status=data["status"], comment=data.get("comment", ""),
                           lines=None)


class BookingLineForm(forms.ModelForm):
    class Meta:
        model = BookingLine
        fields = ("product", "quantity", "price")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["price"].required = False
        self.fields["price"].help_text = "Пусто — цена товара."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("price") is None and data.get("product") is not None:
            data["price"] = data["product"].base_price
        return data


class BookingLineInline(admin.TabularInline):
    model = BookingLine
    form = BookingLineForm
    extra = 1
    autocomplete_fields = ("product",)


@admin.register(Booking)
class BookingAdmin(HistoryAdmin):
    form = BookingForm
    list_display = ("__str__", "starts_at", "ends_at", "contact", "status", "total", "preorder")
    list_filter = ("status", "reservations__resource")
    search_fields = ("contact__phone", "contact__last_name", "contact__first_name", "comment")
    autocomplete_fields = ("contact", "children")
    readonly_fields = ("total", "preorder", "crm_deals")
    inlines = [BookingLineInline]
    date_hierarchy = "starts_at"
    actions = ["cancel_bookings"]
    change_list_template = "admin/bookings/booking/change_list.html"

    @admin.display(description="Сделки в CRM")
    def crm_deals(self, obj: Booking) -> str:
        refs = ExternalRef.objects.filter(kind="booking", local_id=obj.pk).select_related("connection")
        return ", ".join(f"{ref.connection.name}: {ref.external_id}" for ref in refs) or "—"

    def get_urls(self) -> list[Any]:
        return [path("calendar/", self.admin_site.admin_view(self.calendar_view), name="bookings_calendar"),
                *super().get_urls()]

    def save_model(self, request: HttpRequest, obj: Booking, form: BookingForm, change: bool) -> None:
        contact = form.cleaned_data.get("contact")
        if contact is None:
            contact, _ = contact_upsert(ContactData(first_name=form.cleaned_data["new_client_name"],
                                                    phones=[form.cleaned_data["new_client_phone"]]))
        booking_save(form.booking_data(contact), booking=obj)

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        for formset in formsets:  # products: saved by the inline, then the booking is saved again
            formset.save()
        booking = form.instance
        booking_save(form.booking_data(booking.contact), booking=booking)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:  # someone booked the same time between the check and the save
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Отменить выбранные брони (освободить залы, отменить предзаказ)", permissions=["change"])
    def cancel_bookings(self, request: HttpRequest, queryset: Any) -> None:
        for booking in queryset.exclude(status=Booking.Status.CANCELLED):
            booking_cancel(booking)
        messages.success(request, "Брони отменены.")

    def calendar_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            day = dt.date.fromisoformat(request.GET.get("date", ""))
        except ValueError:
            day = timezone.localdate()
        span = "week" if request.GET.get("span") == "week" else "day"
        if span == "week":
            day -= dt.timedelta(days=day.weekday())
        context = {**self.admin_site.each_context(request), "title": "Календарь броней",
                   "calendar": calendar_build(day, span), "span": span, "day": day,
                   "add_url": reverse("admin:bookings_booking_add"), "opts": self.model._meta}
        return TemplateResponse(request, "admin/bookings/calendar.html", context)
