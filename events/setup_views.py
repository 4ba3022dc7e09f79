"""Admin page: how one CRM's pipelines drive the site's events (stages, deal fields, what
each stage of the events pipeline releases to the site)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from connectors.crm.setup import crm_deal_fields_create, field_choices, stage_choices
from events.models import EventSetup
from events.services.setup import (
    EVENT_ROLES,
    OPTIONAL,
    PUSHABLE,
    TEMPLATE_ROLES,
    TICKET_ROLES,
    event_setup_save,
)
from hub.models import Connection
from hub.sync.errors import SyncError


def _pipelines(connection: Connection) -> list[tuple[str, str]]:
    catalog = connection.settings.get("crm_catalog") or {}
    return [(str(p["id"]), p["name"]) for p in catalog.get("pipelines", [])]


class EventSetupForm(forms.Form):
    enabled = forms.BooleanField(label="Включено", required=False, initial=True)
    site = forms.ModelChoiceField(label="Сайт", queryset=Connection.objects.filter(system="site"),
                                  help_text="Подключение к сайту (эндпоинт с общим секретом).")
    template_stage = forms.ChoiceField(label="Этап публикации анонса (воронка идей)",
                                       help_text="Сделка на этом этапе создаёт шаблон мероприятия на сайте; "
                                                 "дальнейшие правки сделки обновляют его.")
    events_pipeline_id = forms.ChoiceField(label="Воронка событий",
                                           help_text="Каждая сделка этой воронки — дата шаблона, событие в "
                                                     "календаре сайта.")
    max_image_kb = forms.IntegerField(label="Наибольшая картинка, КБ", min_value=50, max_value=51200, initial=5120)
    create_missing = forms.BooleanField(label="Создать в CRM недостающие поля сделок", required=False,
                                        help_text="Для каждой незаполненной строки ниже будет создано поле сделки.")

    def __init__(self, connection: Connection, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stages = stage_choices(connection)
        self.fields["template_stage"].choices = [("", "—"), *self.stages]
        self.fields["events_pipeline_id"].choices = [("", "—"), *_pipelines(connection)]
        deal_fields = [("", "— не задано —"), *field_choices(connection, "deal")]
        for prefix, roles in (("t", TEMPLATE_ROLES), ("e", EVENT_ROLES), ("s", TICKET_ROLES)):
            for role, label in roles.items():
                self.fields[f"{prefix}_{role}"] = forms.ChoiceField(label=label, choices=deal_fields, required=False)
        for value, label in self.stages:
            self.fields[f"push_{value}"] = forms.MultipleChoiceField(
                label=f"Этап «{label}» передаёт на сайт", choices=list(PUSHABLE.items()), required=False,
                widget=forms.CheckboxSelectMultiple)

    def role_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name[:2] in ("t_", "e_", "s_")]

    def push_fields(self) -> list[forms.BoundField]:
        return [self[f"push_{value}"] for value, _ in self.stages]


def _initial(setup: EventSetup | None) -> dict[str, object]:
    if setup is None:
        return {"enabled": True, "max_image_kb": 5120}
    initial: dict[str, object] = {
        "enabled": setup.enabled, "site": setup.site_id, "max_image_kb": setup.max_image_kb,
        "template_stage": f"{setup.template_pipeline_id}|{setup.template_stage_id}",
        "events_pipeline_id": setup.events_pipeline_id}
    for prefix, mapped in (("t", setup.template_fields), ("e", setup.event_fields), ("s", setup.ticket_fields)):
        initial.update({f"{prefix}_{role}": field for role, field in mapped.items()})
    for push in setup.stage_pushes.all():
        initial[f"push_{setup.events_pipeline_id}|{push.stage_id}"] = push.roles
    return initial


@staff_member_required
def event_setup_page(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("events.change_eventsetup"):
        raise PermissionDenied
    connection = get_object_or_404(Connection, pk=pk, system__in=("amocrm", "bitrix24"))
    setup = EventSetup.objects.filter(crm=connection).first()
    form = EventSetupForm(connection, request.POST or None, initial=_initial(setup))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        pipeline = data["events_pipeline_id"]
        pushes = {value.split("|", 1)[1]: data[f"push_{value}"] for value, _ in form.stages
                  if value.split("|", 1)[0] == pipeline}
        mapped = ({r: data[f"t_{r}"] for r in TEMPLATE_ROLES}, {r: data[f"e_{r}"] for r in EVENT_ROLES},
                  {r: data[f"s_{r}"] for r in TICKET_ROLES})
        try:
            if data["create_missing"]:
                mapped = tuple(crm_deal_fields_create(connection, [
                    ("evt", TEMPLATE_ROLES, mapped[0]), ("evd", EVENT_ROLES, mapped[1]),
                    ("tks", TICKET_ROLES, mapped[2])], skip=frozenset(OPTIONAL)))
            event_setup_save(
                crm=connection, site=data["site"], template_stage=data["template_stage"], events_pipeline_id=pipeline,
                template_fields=mapped[0], event_fields=mapped[1], ticket_fields=mapped[2],
                stage_pushes=pushes, enabled=data["enabled"], max_image_kb=data["max_image_kb"])
        except ValidationError as exc:
            messages.error(request, "Не сохранено: " + "; ".join(exc.messages))
        except SyncError as exc:
            messages.error(request, f"Не сохранено: CRM не создала поля: {exc}")
        else:
            messages.success(request, "Настройка мероприятий сохранена.")
            return redirect(request.path)
    context = {**admin.site.each_context(request), "title": f"Мероприятия на сайте: {connection.name}",
               "connection": connection, "form": form, "loaded": bool(connection.settings.get("crm_catalog")),
               "setup": setup}
    return TemplateResponse(request, "admin/events/setup.html", context)
