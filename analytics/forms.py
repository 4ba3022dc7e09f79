"""The filters at the top of each analytics page, read from the query string. A missing filter
takes its default; a bad one is shown as a form error and replaced by its default, so the page
always opens (never a 500) and says what it did not understand."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db import models
from django.utils import timezone

from hub.models import Connection, Contact, Product, ProductCategory, ServicePoint
from loyalty.models import Program
from loyalty.reports import DEFAULT_DAYS as OFFER_DEFAULT_DAYS
from loyalty.reports import WINDOWS as OFFER_WINDOWS
from mailings.models import Campaign, Channel

#: systems whose connections record the venue's receipts and passes (a CRM keeps deals of them,
#: not the sales themselves)
VENUE_SYSTEMS = ("lime", "tilda")
DEFAULT_PERIOD_DAYS = 30
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(9998, 12, 31)
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
ALL = "all"
CATEGORY_CHOICES = [(ALL, "Все"), (Contact.Category.ADULT, "Взрослые"), (Contact.Category.CHILD, "Дети")]


def raw(value: object) -> str:
    """A value as the query string carries it."""
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class ReportForm(forms.Form):
    """Bound to the query string over the defaults; ``values`` holds what the report uses."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.default_values = self.defaults()
        data = {name: self.raw(name, self.default_values.get(name)) for name in self.base_fields}
        data.update({name: params[name] for name in self.base_fields if name in params})
        super().__init__(data)

    def defaults(self) -> dict[str, Any]:
        return {}

    def raw(self, name: str, value: object) -> str:
        return raw(value)

    @cached_property
    def values(self) -> dict[str, Any]:
        """The valid filters, each bad or empty one replaced by its default."""
        self.is_valid()
        values = {name: self.default_values.get(name) for name in self.fields}
        for name, value in self.cleaned_data.items():
            if name not in self.errors and value is not None and value != "":
                values[name] = value
        return values

    def query(self, **extra: str) -> str:
        """The query string of the values actually shown (downloads and pages repeat them)."""
        params = {name: self.raw(name, value) for name, value in self.values.items() if self.raw(name, value)}
        return "?" + urlencode({**params, **extra})


class PeriodForm(ReportForm):
    date_from = forms.DateField(label="С", required=False, widget=DATE_WIDGET,
                                help_text="Первый день периода (включительно), по местному времени.")
    date_to = forms.DateField(label="По", required=False, widget=DATE_WIDGET,
                              help_text="Последний день периода (включительно).")

    def defaults(self) -> dict[str, Any]:
        today = timezone.localdate()
        return {"date_from": today - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), "date_to": today}

    def _date(self, name: str) -> dt.date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(f"Дата должна быть между {FIRST_DAY:%d.%m.%Y} и {LAST_DAY:%d.%m.%Y}.")
        return value

    def clean_date_from(self) -> dt.date | None:
        return self._date("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._date("date_to")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Конец периода раньше начала: показан период по умолчанию.")
            self.cleaned_data.pop("date_from", None)
        return self.cleaned_data


class CategoryChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProductCategory) -> str:
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


def _venues() -> models.QuerySet[Connection]:
    return Connection.objects.filter(system__in=VENUE_SYSTEMS).order_by("name")


class TicketsForm(PeriodForm):
    venue = forms.ModelChoiceField(
        _venues(), label="Площадка", required=False, empty_label="Все",
        help_text="Продажи, пришедшие из этого подключения; часы и дни недели — в его часовом поясе.")
    category = CategoryChoice(
        ProductCategory.objects.select_related("parent").order_by("parent__name", "name"),
        label="Категория", required=False, empty_label="Все",
        help_text="Товары этой категории и всех её подкатегорий.")
    kind = forms.ChoiceField(label="Вид товара", choices=[*Product.Kind.choices, (ALL, "Все виды")],
                             help_text="Строки чеков с товарами этого вида; «Все виды» — и строки без товара.")
    by = forms.ChoiceField(label="Разрез", choices=[("product", "По товарам"), ("weekday", "По дням недели"),
                                                    ("hour", "По часам")])
    measure = forms.ChoiceField(label="Показатель", choices=[("units", "Штуки"), ("revenue", "Выручка")],
                                help_text="Что рисует график и по чему выбираются самые продаваемые.")
    top = forms.IntegerField(label="Товаров", min_value=1, max_value=100,
                             help_text="Сколько самых продаваемых товаров показать; остальные — одной строкой.")

    def defaults(self) -> dict[str, Any]:
        return {**super().defaults(), "kind": Product.Kind.TICKET, "by": "product", "measure": "units", "top": 20}


class PassesForm(PeriodForm):
    venue = forms.ModelChoiceField(
        _venues(), label="Площадка", required=False, empty_label="Все",
        help_text="Проходы, пришедшие из этого подключения; часы и дни недели — в его часовом поясе.")
    point = forms.ModelChoiceField(ServicePoint.objects.order_by("name"), label="Точка обслуживания",
                                   required=False, empty_label="Все",
                                   help_text="Аттракцион, платная зона, турникет.")
    by = forms.ChoiceField(label="Разрез", choices=[("point", "По аттракционам и зонам"), ("product", "По товарам"),
                                                    ("weekday", "По дням недели"), ("hour", "По часам")])
    top = forms.IntegerField(label="Строк", min_value=1, max_value=100,
                             help_text="Сколько самых посещаемых показать; остальные — одной строкой.")

    def defaults(self) -> dict[str, Any]:
        return {**super().defaults(), "by": "point", "top": 20}


class LapsedForm(ReportForm):
    days = forms.IntegerField(label="Не были, дней", min_value=1, max_value=3650,
                              help_text="Клиенты, у которых последний визит был не меньше этого числа дней назад.")
    basis = forms.ChoiceField(label="Визит — это", choices=[("any", "Проход или покупка"), ("pass", "Проход"),
                                                            ("purchase", "Покупка")],
                              help_text="Клиенты без единого такого визита в отчёт не попадают.")
    category = forms.ChoiceField(label="Клиенты", choices=CATEGORY_CHOICES)

    def defaults(self) -> dict[str, Any]:
        return {"days": 60, "basis": "any", "category": ALL}


class MonthField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "month"})

    def to_python(self, value: Any) -> dt.date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        match = MONTH.fullmatch(text.strip())
        if not match or not 1900 <= int(match[1]) <= 9998 or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError(f"Не понятен месяц «{text[:20]}»: нужен вид ГГГГ-ММ, например 2026-05.")
        return dt.date(int(match[1]), int(match[2]), 1)


class BirthdaysForm(ReportForm):
    month = MonthField(label="Месяц", required=False,
                       help_text="Дни рождения в этом месяце; возраст — какой исполнится в этом году.")
    category = forms.ChoiceField(label="Кто", choices=CATEGORY_CHOICES,
                                 help_text="Дети — контакты категории «ребёнок»; в таблице видны их родители.")

    def defaults(self) -> dict[str, Any]:
        return {"month": timezone.localdate().replace(day=1), "category": ALL}

    def raw(self, name: str, value: object) -> str:
        return f"{value:%Y-%m}" if name == "month" and isinstance(value, dt.date) else raw(value)


class LiabilityForm(ReportForm):
    program = forms.ModelChoiceField(
        Program.objects.filter(connection__isnull=True).order_by("name"), label="Программа", required=False,
        empty_label="Все", help_text="Только программы, баллы которых ведёт сам хаб (не внешние).")
    days = forms.IntegerField(label="Сгорят за, дней", min_value=1, max_value=365,
                              help_text="Сколько баллов сгорит за это время, если клиенты их не потратят.")

    def defaults(self) -> dict[str, Any]:
        return {"days": 30}


class CampaignsForm(PeriodForm):
    campaign = forms.ModelChoiceField(Campaign.objects.order_by("name"), label="Рассылка", required=False,
                                      empty_label="Все")
    channel = forms.ChoiceField(label="Канал", choices=[(ALL, "Все"), *Channel.choices])
    days = forms.TypedChoiceField(
        label="Выручка за, дней", coerce=int, choices=[(d, f"{d} дней") for d in OFFER_WINDOWS],
        help_text="Покупки клиента за столько дней после сообщения (как в «Результатах предложений»).")

    def defaults(self) -> dict[str, Any]:
        today = timezone.localdate()
        return {"date_from": today - dt.timedelta(days=89), "date_to": today, "channel": ALL,
                "days": OFFER_DEFAULT_DAYS}
