"""The operator's set-up of events for one CRM: which pipelines and stages, which deal fields
hold what. Roles are the hub's names for deal fields; the set-up maps them to field ids."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from events.models import EventSetup, EventStagePush
from hub.models import Connection

TEMPLATE_ROLES = {
    "title": "Название анонса (пусто — название сделки)",
    "description": "Описание анонса (визуальный редактор, HTML)",
    "image": "Картинка анонса (ссылка на файл)",
    "site_id": "ID шаблона на сайте (заполняет хаб)",
    "sync_state": "Выгрузка на сайт (заполняет хаб)",
}
EVENT_ROLES = {
    "idea_deal": "Сделка-идея (её ID)",
    "template_id": "ID шаблона на сайте",
    "starts_at": "Дата (и время) проведения",
    "time": "Время начала ЧЧ:ММ (если в дате нет времени)",
    "speaker": "Спикер",
    "host": "Администратор (встречает гостей)",
    "site_id": "ID события на сайте (заполняет хаб)",
    "sync_state": "Выгрузка на сайт (заполняет хаб)",
}
TICKET_ROLES = {"event_deal": "Сделка мероприятия (ID) в сделке продажи билетов"}
#: What a stage can release to the site's calendar event; the title and the template always go.
PUSHABLE = {"starts_at": "Дата и время", "speaker": "Спикер", "host": "Администратор"}
WRITTEN_BY_HUB = ("site_id", "sync_state")
OPTIONAL = {"time"}  # not made in the CRM when missing: a date field may carry its time


def event_setup_for(connection: Connection) -> EventSetup | None:
    return EventSetup.objects.filter(crm=connection, enabled=True).select_related("site", "crm").first()


def _only(roles: dict[str, str], chosen: dict[str, str], label: str) -> dict[str, str]:
    unknown = set(chosen) - set(roles)
    if unknown:
        raise ValidationError({label: f"Unknown roles: {', '.join(sorted(unknown))}."})
    return {role: str(field) for role, field in chosen.items() if field}


@transaction.atomic
def event_setup_save(*, crm: Connection, site: Connection, template_stage: str, events_pipeline_id: str,
                     template_fields: dict[str, str], event_fields: dict[str, str],
                     ticket_fields: dict[str, str], stage_pushes: dict[str, list[str]],
                     enabled: bool = True, max_image_kb: int = 5120) -> EventSetup:
    """``template_stage`` is "pipeline|stage" (the publish stage of the ideas pipeline);
    ``stage_pushes``: events-pipeline stage id → roles of PUSHABLE released there."""
    if site.system != "site":
        raise ValidationError({"site": "Choose a site connection."})
    pipeline, _, stage = (template_stage or "").partition("|")
    if not pipeline or not stage:
        raise ValidationError({"template_stage": "Choose the stage where the announcement is published."})
    if not events_pipeline_id:
        raise ValidationError({"events_pipeline_id": "Choose the events pipeline."})
    if events_pipeline_id == pipeline:
        raise ValidationError({"events_pipeline_id": "The events pipeline must differ from the ideas pipeline."})
    if not {"idea_deal", "template_id"} & {r for r, f in event_fields.items() if f}:
        raise ValidationError({"event_fields": "Map the idea deal or the site template id field of event deals: "
                                               "without either an event cannot find its template."})
    for stage_id, roles in stage_pushes.items():
        unknown = sorted(set(roles) - set(PUSHABLE))
        if unknown:
            raise ValidationError({"stage_pushes": f"Stage {stage_id}: unknown fields {unknown}."})
    setup, _ = EventSetup.objects.update_or_create(crm=crm, defaults={
        "site": site, "enabled": enabled, "template_pipeline_id": pipeline, "template_stage_id": stage,
        "events_pipeline_id": str(events_pipeline_id), "max_image_kb": max_image_kb,
        "template_fields": _only(TEMPLATE_ROLES, template_fields, "template_fields"),
        "event_fields": _only(EVENT_ROLES, event_fields, "event_fields"),
        "ticket_fields": _only(TICKET_ROLES, ticket_fields, "ticket_fields")})
    setup.stage_pushes.exclude(stage_id__in=[s for s, roles in stage_pushes.items() if roles]).delete()
    for stage_id, roles in stage_pushes.items():
        if roles:
            EventStagePush.objects.update_or_create(setup=setup, stage_id=stage_id, defaults={"roles": list(roles)})
    return setup

