"""/admin/analytics/: the analytics pages the user may open, with what each one shows."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from analytics.pages import pages_for


def index_view(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "title": "Аналитика", "pages": pages_for(request.user)}
    return TemplateResponse(request, "admin/analytics/index.html", context)
