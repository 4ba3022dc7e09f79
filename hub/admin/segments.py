"""Tags and saved segments in the admin; the contact-filter form is shared with the mass
accrual page (and later mailings)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from hub.models import Connection, Contact, ProductCategory, Segment, Stage, Tag
from hub.segments import ContactFilter, contacts_matching

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONTHS = [(None, "—"), *[(i, name) for i, name in enumerate(
    ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь",
     "декабрь"], start=1)]]


class CategoryChoiceField(forms.ModelChoiceField):
    """Categories named with their parent: the same name may sit under two parents."""

    def label_from_instance(self, obj: ProductCategory) -> str:
        return f"{obj.parent.name} / {obj.name}" if obj.parent_id else obj.name


class ContactFilterForm(forms.Form):
    """The filter fields an operator composes; empty ones do not filter."""

    category = forms.ChoiceField(label="Категория", required=False,
                                 choices=[("", "любая"), *Contact.Category.choices])
    birth_month = forms.TypedChoiceField(label="Месяц рождения", required=False, choices=MONTHS, coerce=int,
                                         empty_value=None)
    not_visited_days = forms.IntegerField(label="Не были, дней", required=False, min_value=0, max_value=36500,
                                          help_text="Нет прохода столько дней (или не было никогда).")
    visited_within_days = forms.IntegerField(label="Были за последние, дней", required=False, min_value=0,
                                             max_value=36500, help_text="Хотя бы один проход за столько дней.")
    tags = forms.ModelMultipleChoiceField(Tag.objects.all(), label="Теги", required=False, to_field_name="name",
                                          help_text="Любой из выбранных.")
    child_age_from = forms.IntegerField(label="Есть ребёнок в возрасте от, лет", required=False, min_value=0,
                                        max_value=120)
    child_age_to = forms.IntegerField(label="до, лет (включительно)", required=False, min_value=0, max_value=120)
    spend_from = forms.DecimalField(label="Потратили всего от, ₽", required=False, min_value=0, max_digits=14,
                                    decimal_places=2, help_text="Сумма всех покупок клиента за всё время.")
    spend_to = forms.DecimalField(label="до, ₽", required=False, min_value=0, max_digits=14, decimal_places=2)
    bonus_from = forms.DecimalField(label="Баллов на счёте от", required=False, min_value=0, max_digits=14,
                                    decimal_places=2, help_text="Баланс во всех бонусных программах вместе.")
    bonus_to = forms.DecimalField(label="до", required=False, min_value=0, max_digits=14, decimal_places=2)
    segment = forms.ModelChoiceField(Segment.objects.all(), label="Сегмент", required=False,
                                     help_text="Ещё и правила сохранённого сегмента.")
    deal_connection = forms.ModelChoiceField(Connection.objects.filter(system__in=["amocrm", "bitrix24"]),
                                             label="Сделки в CRM", required=False,
                                             help_text="Клиенты сделок этой CRM (ниже — воронка, этап, даты).")
    deal_pipeline = forms.CharField(label="Воронка (id)", required=False, max_length=64,
                                    help_text="Id воронки и этапа — как в CRM; их список — на странице «Воронки, "
                                              "маршрутизация и поля карточки» подключения.")
    deal_stage = forms.CharField(label="Этап (id)", required=False, max_length=64)
    deal_from = forms.DateField(label="Сделка менялась с", required=False, widget=DATE)
    deal_to = forms.DateField(label="по", required=False, widget=DATE)
    lifecycle = forms.ChoiceField(label="Стадия жизненного цикла", required=False,
                                  choices=[("", "любая"), *Stage.choices],
                                  help_text="Стадия клиента, которая каждую ночь считается по его покупкам и "
                                            "проходам: новый, активный, уходящий, потерянный, вернувшийся.")
    bought_category = CategoryChoiceField(ProductCategory.objects.select_related("parent").order_by("name"),
                                          label="Покупали из категории", required=False,
                                          help_text="Оплаченные покупки товаров этой категории или её "
                                                    "подкатегорий.")
    bought_within_days = forms.IntegerField(label="за последние, дней", required=False, min_value=0,
                                            max_value=36500, help_text="Пусто — когда-либо.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("bought_within_days") is not None and not data.get("bought_category"):
            raise forms.ValidationError("Для срока покупки выберите категорию.")
        deal_fields = ("deal_pipeline", "deal_stage", "deal_from", "deal_to")
        if any(data.get(name) for name in deal_fields) and not data.get("deal_connection"):
            raise forms.ValidationError("Для условий по сделкам выберите CRM.")
        if data.get("deal_from") and data.get("deal_to") and data["deal_from"] > data["deal_to"]:
            raise forms.ValidationError("Дата «с» позже даты «по».")
        for low, high in (("child_age_from", "child_age_to"), ("spend_from", "spend_to"), ("bonus_from", "bonus_to")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                raise forms.ValidationError(f"«{self.fields[low].label}» больше, чем «{self.fields[high].label}».")
        return data

    def contact_filter(self) -> ContactFilter:
        data = self.cleaned_data
        return ContactFilter(
            category=data.get("category") or "", birth_month=data.get("birth_month"),
            not_visited_days=data.get("not_visited_days"), visited_within_days=data.get("visited_within_days"),
            tags=[tag.name for tag in data.get("tags") or []], segment=data.get("segment"),
            child_age_from=data.get("child_age_from"), child_age_to=data.get("child_age_to"),
            spend_from=data.get("spend_from"), spend_to=data.get("spend_to"),
            bonus_from=data.get("bonus_from"), bonus_to=data.get("bonus_to"),
            deal_connection=data.get("deal_connection"), deal_pipeline=data.get("deal_pipeline") or "",
            deal_stage=data.get("deal_stage") or "", deal_from=data.get("deal_from"), deal_to=data.get("deal_to"),
            lifecycle=data.get("lifecycle") or "",
            bought_category=data["bought_category"].pk if data.get("bought_category") else None,
            bought_within_days=data.get("bought_within_days"))


class SegmentForm(ContactFilterForm, forms.ModelForm):
    """The segment's rules as form fields, not raw JSON."""

    segment = None  # a segment inside a segment is not offered

    class Meta:
        model = Segment
        fields = ("name", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            spec = ContactFilter.from_rules(self.instance.rules)
            self.initial.update(spec.to_rules())
            self.initial["tags"] = list(Tag.objects.filter(name__in=spec.tags))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors:
            self.instance.rules = self.contact_filter().to_rules()
        return data


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """The list shows the sizes counted by the daily job (counting every segment live on
    every page view is too slow with many clients); a segment's page counts it now."""

    form = SegmentForm
    list_display = ("name", "size", "counted_on", "updated_at")
    search_fields = ("name",)
    readonly_fields = ("size", "counted_on", "size_now")

    @admin.display(description="Клиентов сейчас")
    def size_now(self, obj: Segment) -> int | str:
        return contacts_matching(ContactFilter(segment=obj)).count() if obj.pk else "—"
