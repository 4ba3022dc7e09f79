"""Admin page: the audit log of every model with a history."""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from hub.audit import audit_actors, audit_log, tracked_models


@staff_member_required
def audit_log_view(request: HttpRequest) -> HttpResponse:
    models = [m for m in tracked_models()
              if request.user.has_perm(f"{m._meta.app_label}.view_{m._meta.model_name}")]
    if not models:
        raise PermissionDenied
    label = request.GET.get("model", "")
    if label not in {m._meta.label_lower for m in models}:
        label = ""
    actor = request.GET.get("user", "")
    actor_id = int(actor) if re.fullmatch(r"[0-9]{1,18}", actor) else None
    context = {**admin.site.each_context(request), "title": "Журнал изменений",
               "changes": audit_log(request.user, label=label, actor_id=actor_id),
               "models": [(m._meta.label_lower, m._meta.verbose_name_plural) for m in models], "model": label,
               "users": get_user_model().objects.filter(pk__in=audit_actors(models)).order_by("username"),
               "actor_id": actor_id}
    return TemplateResponse(request, "admin/audit/log.html", context)
