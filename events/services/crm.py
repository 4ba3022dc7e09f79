"""CRM deals → the site's events. An ideas deal at the publish stage (and every later edit of
it) becomes an event template; a deal in the events pipeline becomes a calendar date of a
template, releasing speaker, date and host to the site as it reaches the stages the operator
named. Problems are told to the deal's manager as a note, once per problem."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from events.models import EventDate, EventSetup, EventTemplate, SyncState
from events.services.content import html_sanitise
from events.services.publishing import event_date_publish, event_template_publish
from events.services.setup import event_setup_for
from hub.services.deals import CrmDealView, crm_deal_note, deal_moved, deal_updated
from hub.services.external_refs import external_ref_find
from hub.services.normalize import datetime_parse

log = logging.getLogger(__name__)

LOST_STAGES = {"143", "LOSE"}  # amoCRM's "closed, not realised"; Bitrix24's failure stage (C<n>:LOSE in pipelines)


def _field(fields: dict[str, str], deal: CrmDealView, role: str) -> str:
    field_id = fields.get(role)
    return deal.fields.get(str(field_id), "").strip() if field_id else ""


def event_template_from_deal(setup: EventSetup, deal: CrmDealView) -> EventTemplate | None:
    """Create the template when the ideas deal reaches the publish stage; afterwards follow
    the deal's edits. Only a change of what the site shows is sent again."""
    template = (EventTemplate.objects.select_for_update().defer("image")
                .filter(setup=setup, crm_deal_id=deal.id).first())
    if template is None and deal.stage_id != setup.template_stage_id:
        return None
    fields = setup.template_fields
    values = {"title": (_field(fields, deal, "title") or deal.title or f"Сделка {deal.id}")[:255],
              "description_html": html_sanitise(_field(fields, deal, "description")),
              "image_url": _field(fields, deal, "image")[:1000]}
    if template is not None and all(getattr(template, k) == v for k, v in values.items()):
        return template
    template = template or EventTemplate(setup=setup, crm_deal_id=deal.id)
    if template.image_url != values["image_url"]:
        template.image, template.image_type, template.image_error = None, "", ""
    for key, value in values.items():
        setattr(template, key, value)
    template.sync_state = SyncState.PENDING
    template.save()
    log.info("event template %s from CRM deal %s (setup %s)", template.pk, deal.id, setup.pk)
    event_template_publish(template)
    event_dates_attach(template)
    return template


def _template_of(setup: EventSetup, deal: CrmDealView) -> tuple[EventTemplate | None, str, str]:
    """By the idea deal's id, else by the site template id: in the events deal's own field,
    or in the field where the hub wrote it into the idea (a copy of the idea carries it: a
    CRM's deal fields are shared by all its pipelines)."""
    idea = _field(setup.event_fields, deal, "idea_deal")[:64]
    site_id = (_field(setup.event_fields, deal, "template_id") or _field(setup.template_fields, deal, "site_id"))[:64]
    if idea and (found := EventTemplate.objects.filter(setup=setup, crm_deal_id=idea).first()):
        return found, idea, site_id
    if site_id and (ref := external_ref_find(setup.site, "event_template", site_id)):
        return EventTemplate.objects.filter(pk=ref.local_id, setup=setup).first(), idea, site_id
    return None, idea, site_id


def _person(setup: EventSetup, value: str) -> str:
    """A CRM "user" field holds the user's id: the site shows the name (users are read with
    the pipelines); a text field is taken as written."""
    users = {str(u["id"]): u["name"] for u in (setup.crm.settings.get("crm_catalog") or {}).get("users", [])}
    return users.get(value, value) if value.isdigit() else value


def _stages_up_to(setup: EventSetup, stage_id: str) -> list[str]:
    """The events pipeline's stages up to this one, in the CRM's order: a deal dragged past a
    stage (or created further on) has released what that stage releases."""
    if stage_id in LOST_STAGES or stage_id.endswith(":LOSE"):
        return []  # a cancelled event releases nothing more
    catalog = setup.crm.settings.get("crm_catalog") or {}
    pipeline = next((p for p in catalog.get("pipelines", []) if str(p["id"]) == setup.events_pipeline_id), None)
    order = [str(s["id"]) for s in (pipeline or {}).get("stages", [])]
    return order[: order.index(stage_id) + 1] if stage_id in order else [stage_id]


def event_date_from_deal(setup: EventSetup, deal: CrmDealView) -> EventDate | None:
    """Record the date's deal and send what its stages have released so far."""
    event = EventDate.objects.select_for_update().filter(setup=setup, crm_deal_id=deal.id).first()
    event = event or EventDate(setup=setup, crm_deal_id=deal.id)
    template, idea, site_id = _template_of(setup, deal)
    fields = setup.event_fields
    problems = []
    try:
        starts_at = datetime_parse(_field(fields, deal, "starts_at"), ZoneInfo(setup.crm.time_zone),
                                   _field(fields, deal, "time"))
    except ValidationError:
        starts_at = event.starts_at
        problems.append(f"дата «{_field(fields, deal, 'starts_at')}» или время «{_field(fields, deal, 'time')}» "
                        "не распознаны (нужно ДД.ММ.ГГГГ и ЧЧ:ММ)")
    template = template or event.template
    if template is None and not site_id:
        problems.append(f"идея (сделка {idea}) ещё не опубликована на сайте: событие появится после неё" if idea
                        else "не указан шаблон: заполните сделку-идею или ID шаблона на сайте")
    reached = list(event.reached_stages or [])
    reached += [stage for stage in _stages_up_to(setup, deal.stage_id) if stage and stage not in reached]
    before = _state(event)
    event.template, event.idea_deal_id = template, idea or event.idea_deal_id
    event.template_site_id = site_id or event.template_site_id
    event.title = deal.title[:255]
    event.starts_at = starts_at
    event.speaker = _person(setup, _field(fields, deal, "speaker"))[:255]
    event.host = _person(setup, _field(fields, deal, "host"))[:255]
    event.reached_stages = reached
    problem = "; ".join(problems)[:500]
    if problem and problem != event.deal_problem:  # told once, not on every edit of the deal
        crm_deal_note(setup.crm, deal.id, f"Хаб: событие на сайте не обновлено: {problem}.")
    event.deal_problem = problem
    event.save()
    if _state(event) != before and (event.template_id or event.template_site_id):
        event_date_publish(event)
    return event


def event_dates_attach(template: EventTemplate) -> int:
    """Dates entered before their idea was published: bound to its template now and sent
    (they reach the site once the template has)."""
    waiting = list(EventDate.objects.select_for_update().filter(setup=template.setup, idea_deal_id=template.crm_deal_id,
                                                               template__isnull=True))
    for event in waiting:
        event.template, event.deal_problem = template, ""
        event.save(update_fields=["template", "deal_problem", "updated_at"])
        event_date_publish(event)
    return len(waiting)


def _state(event: EventDate) -> tuple[Any, ...]:
    return (event.template_id, event.template_site_id, event.title, event.starts_at, event.speaker, event.host,
            tuple(event.reached_stages or ()))


def on_deal(sender: Any, connection: Any, deal: CrmDealView, previous: tuple[str, str], **kwargs: Any) -> None:
    setup = event_setup_for(connection)
    if setup is None:
        return
    if deal.pipeline_id == setup.template_pipeline_id:
        event_template_from_deal(setup, deal)
    elif deal.pipeline_id == setup.events_pipeline_id:
        event_date_from_deal(setup, deal)


def connect_signals() -> None:
    deal_moved.connect(on_deal, dispatch_uid="events.on_deal_moved")
    deal_updated.connect(on_deal, dispatch_uid="events.on_deal_updated")
