"""Admin page: the routing table and card-field mapping of a CRM connection."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from connectors.crm.setup import (
    CARD_ROLES,
    EVENT_KINDS,
    TRIGGERS,
    catalog_choices,
    crm_catalog_load,
    crm_routing_save,
    field_choices,
    stage_choices,
)
from hub.models import Connection
from hub.sync.errors import SyncError


class RoutingForm(forms.Form):
    purchase_deal_per = forms.ChoiceField(label="Сделки по покупкам", choices=[
        ("line", "Отдельная сделка на каждый билет"), ("receipt", "Одна сделка на чек")])
    create_missing = forms.BooleanField(label="Создать в CRM недостающие поля карточки", required=False)

    def __init__(self, connection: Connection, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        stages = [("", "— не отправлять —"), *stage_choices(connection)]
        fields = [("", "— не заполнять —"), *field_choices(connection)]
        for kind, label in EVENT_KINDS.items():
            self.fields[f"route_{kind}"] = forms.ChoiceField(label=label, choices=stages, required=False)
        for role, label in CARD_ROLES.items():
            self.fields[f"field_{role}"] = forms.ChoiceField(label=label, choices=fields, required=False)
        deal_fields = [("", "— не задано —"), *field_choices(connection, "deal")]
        for name, trigger in TRIGGERS.items():
            self.fields[f"{name}_request"] = forms.ChoiceField(
                label=trigger.label, choices=[("", "— не использовать —"), *stage_choices(connection)],
                required=False, help_text=trigger.help)
            for role, label in trigger.fields.items():
                self.fields[f"{name}_{role}"] = forms.ChoiceField(label=label, choices=deal_fields, required=False)
        catalogs = catalog_choices(connection)
        if catalogs:
            self.fields["catalog_id"] = forms.ChoiceField(
                label="Каталог товаров", required=False, choices=[("", "— без товаров —"), *catalogs],
                help_text="Товары сделок станут элементами этого каталога (один элемент на товар хаба).")


@staff_member_required
def crm_routing(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("hub.change_connection"):
        raise PermissionDenied
    connection = get_object_or_404(Connection, pk=pk)
    if request.method == "POST" and "load" in request.POST:
        try:
            catalog = crm_catalog_load(connection)
            messages.success(request, f"Загружено воронок: {len(catalog['pipelines'])}, "
                                      f"полей контакта: {len(catalog['contact_fields'])}.")
        except (SyncError, ValidationError) as exc:
            messages.error(request, f"Не удалось загрузить из CRM: {exc}")
        return redirect(request.path)
    settings = connection.settings
    initial = {"purchase_deal_per": settings.get("purchase_deal_per", "line"),
               "catalog_id": str(settings.get("catalog_id") or "")}
    for kind, route in (settings.get("routes") or {}).items():
        initial[f"route_{kind}"] = f"{route['pipeline_id']}|{route['stage_id']}"
    for role, field in (settings.get("fields") or {}).items():
        initial[f"field_{role}"] = str(field)
    for name in TRIGGERS:
        asked = settings.get(f"{name}_request") or {}
        if asked:
            initial[f"{name}_request"] = f"{asked['pipeline_id']}|{asked['stage_id']}"
        for role, field in (settings.get(f"{name}_fields") or {}).items():
            initial[f"{name}_{role}"] = str(field)
    form = RoutingForm(connection, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            crm_routing_save(connection, purchase_deal_per=data["purchase_deal_per"],
                             routes={k: data[f"route_{k}"] for k in EVENT_KINDS},
                             fields={r: data[f"field_{r}"] for r in CARD_ROLES},
                             create_missing=data["create_missing"], catalog_id=data.get("catalog_id", ""),
                             triggers={n: data[f"{n}_request"] for n in TRIGGERS},
                             trigger_fields={n: {r: data[f"{n}_{r}"] for r in t.fields} for n, t in TRIGGERS.items()})
        except (ValidationError, SyncError) as exc:
            messages.error(request, f"Не сохранено: {exc}")
        else:
            messages.success(request, "Маршрутизация сохранена.")
            return redirect(request.path)
    context = {**admin.site.each_context(request), "title": f"Маршрутизация CRM: {connection.name}",
               "connection": connection, "form": form, "loaded": bool(settings.get("crm_catalog"))}
    return TemplateResponse(request, "admin/crm_routing.html", context)
