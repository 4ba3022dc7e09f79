"""Operator set-up of a CRM connection: load pipelines and fields from the CRM, route each
event kind to a pipeline/stage, map (or create) the card fields the hub writes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.models import Connection
from hub.sync import registry
from hub.sync.errors import SyncError

log = logging.getLogger(__name__)

EVENT_KINDS = {"purchase": "Покупка (билет / чек)", "pass": "Проход (списание)", "preorder": "Предзаказ",
               "booking": "Бронирование", "request": "Заявка с сайта или из бота",
               "ticket_sale": "Продажа билетов на мероприятие (сайт)"}
CARD_ROLES = {"children": "Дети (имена и даты рождения)", "last_pass": "Последний проход",
              "transactions": "Последние 10 покупок", "messengers": "Мессенджеры",
              "bonus_balance": "Бонусный баланс", "bonus_history": "Последние операции с бонусами",
              "consent": "Согласия (ПДн, рассылки)", "nps": "Оценка NPS (последний ответ)",
              "birth_date": "Дата рождения (если в CRM нет своего поля)"}


@dataclass(frozen=True)
class Trigger:
    """A stage where a manager's deal asks the hub for something, with the deal fields that
    say what (settings: ``<name>_request`` = pipeline/stage, ``<name>_fields`` = role → field)."""

    label: str
    help: str
    fields: dict[str, str]
    required: tuple[str, ...]


TRIGGERS = {
    "booking": Trigger("Этап «запрошена бронь»", "Сделка на этом этапе бронирует зал в хабе; ответ придёт "
                       "примечанием в сделку.",
                       {"hall": "Бронь: зал (название)", "date": "Бронь: дата", "time": "Бронь: время начала (ЧЧ:ММ)",
                        "hours": "Бронь: длительность, часов (по умолчанию 2)"}, ("hall", "date", "time")),
    "bonus": Trigger("Этап «начислить баллы»", "Сделка на этом этапе начисляет (или списывает, если число "
                     "отрицательное) баллы её контакту; ответ придёт примечанием в сделку.",
                     {"points": "Баллы: количество", "reason": "Баллы: причина"}, ("points",)),
}


def _port(connection: Connection) -> Any:
    connector = registry.get(connection.system)
    if connector is None or not hasattr(connector, "adapter"):
        raise ValidationError(f"{connection.name} is not a CRM connection.")
    return connector.adapter(connection)


def _users(port: Any) -> list[dict[str, str]]:
    """Users need a right the integration may lack (Bitrix24's "user" scope, amoCRM admin):
    without them user fields are shown as ids, and the rest of the catalog still loads."""
    try:
        return [{"id": uid, "name": name} for uid, name in port.list_users()]
    except SyncError as exc:
        log.warning("CRM users not readable: %s", exc)
        return []


def crm_catalog_load(connection: Connection) -> dict[str, Any]:
    """Read pipelines (with stages) and contact fields from the CRM into the connection."""
    port = _port(connection)
    catalog = {
        "pipelines": [{"id": p.id, "name": p.name, "stages": [{"id": s.id, "name": s.name} for s in p.stages]}
                      for p in port.list_pipelines()],
        "contact_fields": [{"id": f.id, "name": f.name, "code": f.code} for f in port.list_fields("contact")],
        "deal_fields": [{"id": f.id, "name": f.name, "code": f.code} for f in port.list_fields("deal")],
        "catalogs": [{"id": cid, "name": name} for cid, name in port.list_catalogs()],
        "users": _users(port),
    }
    connection.settings = {**connection.settings, "crm_catalog": catalog}
    connection.save(update_fields=["settings", "updated_at"])
    return catalog


def stage_choices(connection: Connection) -> list[tuple[str, str]]:
    catalog = connection.settings.get("crm_catalog") or {}
    return [(f"{p['id']}|{s['id']}", f"{p['name']} → {s['name']}")
            for p in catalog.get("pipelines", []) for s in p["stages"]]


def field_choices(connection: Connection, entity: str = "contact") -> list[tuple[str, str]]:
    """Fields the hub may write or read: all but the CRM's own phone and e-mail."""
    catalog = connection.settings.get("crm_catalog") or {}
    return [(str(f["id"]), f["name"]) for f in catalog.get(f"{entity}_fields", [])
            if f.get("code") not in ("PHONE", "EMAIL")]


def catalog_choices(connection: Connection) -> list[tuple[str, str]]:
    catalog = connection.settings.get("crm_catalog") or {}
    return [(str(c["id"]), c["name"]) for c in catalog.get("catalogs", [])]


def crm_routing_save(connection: Connection, *, routes: dict[str, str], purchase_deal_per: str,
                     fields: dict[str, str], create_missing: bool = False, catalog_id: str = "",
                     triggers: dict[str, str] | None = None,
                     trigger_fields: dict[str, dict[str, str]] | None = None) -> Connection:
    """``routes``: kind → "pipeline|stage" ("" = do not send); ``fields``: role → field id;
    ``catalog_id``: the CRM product catalog deals link their products to (amoCRM);
    ``triggers``: TRIGGERS name → "pipeline|stage" where deals ask the hub for it, with
    ``trigger_fields`` (name → role → deal field id) holding what they ask."""
    if catalog_id and catalog_id not in {value for value, _ in catalog_choices(connection)}:
        raise ValidationError({"catalog_id": "This catalog is not in the CRM (load pipelines again?)."})
    valid = {value for value, _ in stage_choices(connection)}
    parsed: dict[str, dict[str, str]] = {}
    for kind, value in routes.items():
        if kind not in EVENT_KINDS:
            raise ValidationError({kind: "Unknown event kind."})
        if value:
            if value not in valid:
                raise ValidationError({kind: "This stage is not in the CRM (load pipelines again?)."})
            pipeline, stage = value.split("|", 1)
            parsed[kind] = {"pipeline_id": pipeline, "stage_id": stage}
    if purchase_deal_per not in ("line", "receipt"):
        raise ValidationError({"purchase_deal_per": "Choose per ticket line or per receipt."})
    mapped = {role: field for role, field in fields.items() if role in CARD_ROLES and field}
    asked: dict[str, Any] = {}
    for name, trigger in TRIGGERS.items():
        value = (triggers or {}).get(name, "")
        chosen = {role: f for role, f in ((trigger_fields or {}).get(name) or {}).items()
                  if role in trigger.fields and f}
        asked[f"{name}_request"], asked[f"{name}_fields"] = {}, chosen
        if not value:
            continue
        if value not in valid:
            raise ValidationError({f"{name}_request": "This stage is not in the CRM (load pipelines again?)."})
        if not set(trigger.required) <= set(chosen):
            labels = ", ".join(trigger.fields[r] for r in trigger.required)
            raise ValidationError({f"{name}_request": f"Choose the deal fields: {labels}."})
        pipeline, stage = value.split("|", 1)
        asked[f"{name}_request"] = {"pipeline_id": pipeline, "stage_id": stage}
    if create_missing:  # CRM calls outside any transaction: a token refreshed on the way is kept
        port = _port(connection)
        for role, label in CARD_ROLES.items():
            if role not in mapped:
                mapped[role] = port.create_field("contact", label, code=role).id
        crm_catalog_load(connection)  # the new fields appear in the dropdowns
    with transaction.atomic():
        fresh = Connection.objects.select_for_update().get(pk=connection.pk)
        fresh.settings = {**fresh.settings, "routes": parsed, "purchase_deal_per": purchase_deal_per,
                          "fields": mapped, "catalog_id": catalog_id, **asked}
        fresh.save(update_fields=["settings", "updated_at"])
    return fresh


def crm_deal_fields_create(connection: Connection, groups: list[tuple[str, dict[str, str], dict[str, str]]],
                           skip: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """For each (code prefix, role → label, role → field id already chosen): a deal field made
    in the CRM for every role left unmapped (but ``skip``), then the catalog reloaded so the
    new fields show. CRM calls outside any transaction: a token refreshed on the way is kept."""
    port = _port(connection)
    made = []
    for prefix, roles, mapped in groups:
        result = dict(mapped)
        for role, label in roles.items():
            if not result.get(role) and role not in skip:
                result[role] = port.create_field("deal", label, code=f"{prefix}_{role}"[:40]).id
        made.append(result)
    crm_catalog_load(connection)
    return made
