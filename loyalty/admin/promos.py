"""Promo codes and personal coupons in the admin: the code's form with readable checks, the
action that issues coupons to a segment (with its control group), and the read-only list of
every use."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hub.models import Segment
from hub.segments import ContactFilter, contacts_matching
from loyalty.admin.ledger import ReadOnlyMixin
from loyalty.models import PromoCode, PromoUse
from loyalty.services.promos import COUPON_PREFIX_RE, coupons_issue

CODE = re.compile(r"^[\w-]+$")

ISSUE_PAGE = """{% extends "admin/base_site.html" %}
{% block content %}
<p>Из промокода «{{ promo.code }}» ({{ promo.name }}) каждый клиент сегмента получит свой персональный купон
   с теми же условиями. {% if promo.holdout_percent %}{{ promo.holdout_percent }}% клиентов (всегда одни и те же)
   попадут в контрольную группу и купон не получат — с ними сравнивается результат.{% endif %}
   Кто уже получил купон из этого промокода или попал в контрольную группу, пропускается.</p>
<form method="post">{% csrf_token %}
  {{ form.non_field_errors }}
  <table>{{ form.as_table }}</table>
  <input type="hidden" name="action" value="issue_coupons">
  <input type="hidden" name="{{ checkbox }}" value="{{ promo.pk }}">
  <p><input type="submit" name="apply" class="default" value="Выдать купоны"></p>
</form>
{% endblock %}"""


class PromoCodeForm(forms.ModelForm):
    class Meta:
        model = PromoCode
        fields = ("program", "code", "name", "active", "contact", "max_uses", "max_uses_per_client", "combinable",
                  "valid_from", "valid_until", "discount_percent", "discount_amount", "bonus_points", "min_total",
                  "products", "categories", "holdout_percent")

    def clean_code(self) -> str:
        code = (self.cleaned_data.get("code") or "").strip().upper()
        if not CODE.match(code):
            raise ValidationError("В коде — только буквы, цифры, «-» и «_», без пробелов.")
        if PromoCode.objects.filter(code__iexact=code).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"Промокод «{code}» уже есть (большие и маленькие буквы не различаются).")
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        percent, amount, points = data.get("discount_percent"), data.get("discount_amount"), data.get("bonus_points")
        effects = ("discount_percent", "discount_amount", "bonus_points")
        if all(data.get(name) is None and not self.has_error(name) for name in effects):
            self.add_error(None, "Укажите, что даёт промокод: скидку в процентах, скидку в рублях или баллы.")
        if percent is not None and not 0 < percent <= 100:
            self.add_error("discount_percent", "Скидка в процентах — больше 0 и не больше 100.")
        if amount is not None and amount <= 0:
            self.add_error("discount_amount", "Скидка в рублях должна быть больше нуля.")
        if points is not None and points <= 0:
            self.add_error("bonus_points", "Баллов должно быть больше нуля.")
        if data.get("min_total") is not None and data["min_total"] < 0:
            self.add_error("min_total", "Минимальная сумма чека не может быть отрицательной.")
        for name in ("max_uses", "max_uses_per_client"):
            if data.get(name) == 0:
                self.add_error(name, "Ноль использований — промокод не сработает ни разу. Оставьте пустым "
                                     "для «без ограничения».")
        if data.get("holdout_percent") is not None and data["holdout_percent"] > 100:
            self.add_error("holdout_percent", "Контрольная группа — не больше 100%.")
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and start >= end:
            self.add_error("valid_until", "Дата окончания должна быть позже даты начала.")
        return data


class KindFilter(admin.SimpleListFilter):
    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("public", _("Promo codes for anyone")), ("personal", _("Personal coupons"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[PromoCode]) -> QuerySet[PromoCode]:
        if self.value() == "public":
            return queryset.filter(contact__isnull=True)
        if self.value() == "personal":
            return queryset.filter(contact__isnull=False)
        return queryset


class CouponIssueForm(forms.Form):
    segment = forms.ModelChoiceField(Segment.objects.all(), label=_("Segment"))
    prefix = forms.CharField(label=_("Coupon code prefix"), required=False, max_length=24,
                             help_text=_("Optional, e.g. SUMMER-: the codes become SUMMER-XXXXXXXX."))

    def clean_prefix(self) -> str:
        prefix = (self.cleaned_data.get("prefix") or "").strip().upper()
        if not COUPON_PREFIX_RE.match(prefix):  # Latin only: the random part is Latin, mixed look-alikes mislead
            raise ValidationError("В префиксе — только латинские буквы, цифры, «-» и «_».")
        return prefix


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):
    form = PromoCodeForm
    list_display = ("code", "name", "contact", "uses_of", "validity", "active")
    list_filter = ("active", KindFilter, "combinable", "program", "valid_until")
    search_fields = ("code", "name")
    filter_horizontal = ("products", "categories")
    raw_id_fields = ("contact",)
    readonly_fields = ("parent", "uses", "coupons")
    list_select_related = ("contact", "program")
    actions = ["issue_coupons"]
    fieldsets = (
        (_("Code"), {"fields": ("program", "code", "name", "active", "parent", "coupons")}),
        (_("Who and how often"), {"fields": ("contact", "max_uses", "max_uses_per_client", "combinable", "uses")}),
        (_("When"), {"fields": ("valid_from", "valid_until")}),
        (_("What it gives"), {"fields": ("discount_percent", "discount_amount", "bonus_points")}),
        (_("What it applies to"), {"fields": ("min_total", "products", "categories")}),
        (_("Control group"), {"fields": ("holdout_percent",)}),
    )

    @admin.display(description=_("used / at most"))
    def uses_of(self, obj: PromoCode) -> str:
        return f"{obj.uses} / {obj.max_uses if obj.max_uses is not None else '∞'}"

    @admin.display(description=_("valid"))
    def validity(self, obj: PromoCode) -> str:
        zone = ZoneInfo(obj.program.time_zone or "Europe/Moscow")
        start = obj.valid_from.astimezone(zone).strftime("%d.%m.%Y %H:%M") if obj.valid_from else ""
        end = obj.valid_until.astimezone(zone).strftime("%d.%m.%Y %H:%M") if obj.valid_until else ""
        if start and end:
            return f"{start} – {end}"
        return f"с {start}" if start else f"до {end}" if end else "всегда"

    @admin.display(description=_("coupons issued"))
    def coupons(self, obj: PromoCode) -> str:
        if obj.pk is None:
            return "—"
        count = PromoCode.objects.filter(parent=obj).count()
        url = reverse("admin:loyalty_promocode_changelist") + f"?parent__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, count)

    @admin.action(description=_("Issue personal coupons to a segment"), permissions=["add"])
    def issue_coupons(self, request: HttpRequest, queryset: QuerySet[PromoCode]) -> HttpResponse | None:
        """An intermediate page picks the segment; the coupons are issued on its submit."""
        promos = list(queryset[:2])
        if len(promos) != 1 or promos[0].contact_id is not None or promos[0].parent_id is not None:
            self.message_user(request, "Выберите один общий промокод (не персональный купон): купоны выпускаются "
                                       "из него.", messages.ERROR)
            return None
        promo = promos[0]
        form = CouponIssueForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            contacts = contacts_matching(ContactFilter(segment=form.cleaned_data["segment"]))
            try:
                issued, held = coupons_issue(promo, contacts, prefix=form.cleaned_data["prefix"])
            except ValidationError as exc:
                form.add_error(None, exc.messages)
            else:
                self.message_user(request, f"Выдано {issued}, в контрольной группе {held}.", messages.SUCCESS)
                return None
        context = {**self.admin_site.each_context(request), "title": f"Купоны из промокода «{promo.code}»",
                   "form": form, "promo": promo, "opts": self.model._meta,
                   "checkbox": helpers.ACTION_CHECKBOX_NAME}
        return TemplateResponse(request, engines["django"].from_string(ISSUE_PAGE), context)


@admin.register(PromoUse)
class PromoUseAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Every use of a code: what it gave on which receipt, and whether a refund gave it back."""

    list_display = ("used_at", "promo", "receipt", "contact", "discount", "points", "cancelled")
    list_filter = ("cancelled", "promo__program")
    search_fields = ("promo__code", "receipt__ref")
    date_hierarchy = "used_at"
    list_select_related = ("promo", "receipt", "contact")
