"""The connection wizard's pages: choose a system, credentials, check, CRM routing, webhooks,
final end-to-end check. Thin: forms, services and selectors do the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from connectors.crm.views import crm_routing
from connectors.wizard import selectors
from connectors.wizard.forms import CredentialsForm, HookFieldsForm, apply_errors
from connectors.wizard.services import wizard_check, wizard_connection_save, wizard_pull, wizard_push_test_contact
from connectors.wizard.systems import SystemSpec, spec_for
from hub.models import Connection
from hub.services.connections import connection_register_webhook
from hub.sync import registry

ADD, CHANGE = "hub.add_connection", "hub.change_connection"


def _page(request: HttpRequest, template: str, system: str, step: str, connection: Connection | None,
          **context: Any) -> TemplateResponse:
    title = selectors.STEP_TITLES[step]
    connector = registry.get(system)
    back = forward = ""
    if connection is not None and step != "system":
        back, forward = selectors.wizard_neighbours(connection, step)
    context = {**admin.site.each_context(request), "title": f"Мастер подключения: {title}", "step_title": title,
               "steps": selectors.wizard_progress(system, step, connection), "connection": connection,
               "system": system, "system_title": connector.title if connector else system,
               "spec": spec_for(system), "back_url": back, "next_url": forward, **context}
    return TemplateResponse(request, f"admin/wizard/{template}", context)


def _step_url(connection: Connection, step: str) -> str:
    return reverse("connection_wizard_step", args=[connection.pk, step])


@staff_member_required
def wizard_start(request: HttpRequest) -> HttpResponse:
    """Step 1 (choose the system) and, with ``?system=``, step 2 for a new connection."""
    system = request.GET.get("system") or request.POST.get("system") or ""
    if not system:
        if not (request.user.has_perm(ADD) or request.user.has_perm(CHANGE)):
            raise PermissionDenied
        context = {**admin.site.each_context(request), "title": "Мастер подключения", "step_title": "Система",
                   "steps": selectors.wizard_progress("", "system"), "systems": selectors.wizard_systems(),
                   "connections": selectors.wizard_connections(), "can_add": request.user.has_perm(ADD)}
        return TemplateResponse(request, "admin/wizard/start.html", context)
    if not request.user.has_perm(ADD):
        raise PermissionDenied
    spec = spec_for(system)
    if spec is None or registry.get(system) is None:
        messages.error(request, f"Мастер не знает систему «{system}»: выберите из списка.")
        return redirect("connection_wizard")
    form = CredentialsForm(spec, None, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = wizard_connection_save(connection=None, system=system, **form.connection_values())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Подключение «{connection.name}» создано. Проверим связь.")
            return redirect(_step_url(connection, "check"))
    return _page(request, "credentials.html", system, "credentials", None, form=form)


@staff_member_required
def wizard_step(request: HttpRequest, pk: int, step: str) -> HttpResponse:
    if not request.user.has_perm(CHANGE):
        raise PermissionDenied
    connection = get_object_or_404(Connection, pk=pk)
    spec = spec_for(connection.system)
    if spec is None or registry.get(connection.system) is None:
        raise Http404(f"Мастер не знает систему «{connection.system}».")
    if step not in selectors.wizard_steps(connection.system):
        raise Http404(f"У этой системы нет шага «{step}».")
    return STEPS[step](request, connection, spec)


def _credentials(request: HttpRequest, connection: Connection, spec: SystemSpec) -> HttpResponse:
    form = CredentialsForm(spec, connection, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            wizard_connection_save(connection=connection, system=connection.system, **form.connection_values())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Учётные данные сохранены.")
            return redirect(_step_url(connection, "check"))
    return _page(request, "credentials.html", connection.system, "credentials", connection, form=form)


def _check(request: HttpRequest, connection: Connection, spec: SystemSpec) -> HttpResponse:
    result = wizard_check(connection)
    return _page(request, "check.html", connection.system, "check", connection, result=result)


def _routing(request: HttpRequest, connection: Connection, spec: SystemSpec) -> HttpResponse:
    """The CRM routing page's own view does the loading, the form and the saving; its redirects
    come back here (they go to the path asked), and its form is shown inside the wizard."""
    response = crm_routing(request, connection.pk)
    if not isinstance(response, TemplateResponse):
        return response
    connection.refresh_from_db()
    data = response.context_data or {}
    return _page(request, "routing.html", connection.system, "routing", connection, form=data.get("form"),
                 loaded=data.get("loaded"), routes=selectors.routing_table(connection))


def _webhooks(request: HttpRequest, connection: Connection, spec: SystemSpec) -> HttpResponse:
    form = HookFieldsForm(spec, connection, request.POST if "save_hook_fields" in request.POST else None)
    if request.method == "POST" and "register" in request.POST:
        result = connection_register_webhook(connection)
        (messages.success if result.ok else messages.error)(request, result.message)
        return redirect(request.path)
    if request.method == "POST" and form.is_valid():
        credentials, settings = form.values()
        try:
            wizard_connection_save(connection=connection, system=connection.system, name=connection.name,
                                   credentials=credentials, settings=settings)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Сохранено.")
            return redirect(request.path)
    return _page(request, "webhooks.html", connection.system, "webhooks", connection, form=form,
                 webhook_url=selectors.webhook_url(connection, spec),
                 registers=selectors.registers_webhook(connection.system))


def _final(request: HttpRequest, connection: Connection, spec: SystemSpec) -> HttpResponse:
    kind = selectors.final_kind(connection.system)
    push = pull = None
    if request.method == "POST" and kind == "push":
        push = wizard_push_test_contact(connection)
    elif request.method == "POST" and kind == "pull":
        pull = wizard_pull(connection)
    return _page(request, "final.html", connection.system, "final", connection, kind=kind, push=push, pull=pull,
                 test_state=selectors.wizard_test_contact_state(connection) if kind == "push" else {},
                 inbox=selectors.latest_inbox(connection))


STEPS: dict[str, Callable[[HttpRequest, Connection, SystemSpec], HttpResponse]] = {
    "credentials": _credentials, "check": _check, "routing": _routing, "webhooks": _webhooks, "final": _final}
