"""Admin glue: the import page (check → apply), its report download, the filtered-list
export and the "export selected" actions. A ModelAdmin adds ``import_export_urls(self)`` to
its URLs and ``export_csv`` / ``export_xlsx`` to its actions; everything else is here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from hub.imports import tasks  # noqa: F401 - registers the apply task wherever the admin loads (web, worker)
from hub.imports.contacts import ContactTable
from hub.imports.export import FORMATS, table_export
from hub.imports.files import max_bytes, max_rows, size_check
from hub.imports.products import ProductTable
from hub.imports.services import import_check, import_start
from hub.imports.storage import upload_record
from hub.imports.table import Report, TableSpec
from hub.models import Contact, Product

TABLES: dict[type[Model], type[TableSpec]] = {Contact: ContactTable, Product: ProductTable}


def table_for(model_admin: admin.ModelAdmin) -> type[TableSpec]:
    return TABLES[model_admin.model]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Файл",
        help_text="CSV (разделитель «;», «,» или табуляция; кодировка UTF-8 или Windows-1251) или XLSX. "
                  "Первая строка — заголовок.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text += (f" Не больше {max_bytes() // (1024 * 1024)} МБ "
                                          f"и {max_rows()} строк.")

    def options(self) -> dict[str, Any]:
        return {name: value for name, value in self.cleaned_data.items() if name != "file"}


class ProductImportForm(ImportForm):
    create_categories = forms.BooleanField(
        label="Создавать недостающие категории", required=False,
        help_text="Иначе строка с категорией, которой нет в справочнике, — ошибка (защита от опечаток).")


FORMS: dict[type[Model], type[ImportForm]] = {Contact: ImportForm, Product: ProductImportForm}


def _name(model_admin: admin.ModelAdmin, suffix: str) -> str:
    return f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_{suffix}"


def import_export_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    wrap = model_admin.admin_site.admin_view

    def import_page(request: HttpRequest) -> HttpResponse:
        return import_view(model_admin, request)

    def report_csv(request: HttpRequest, token: str) -> HttpResponse:
        return import_report_view(model_admin, request, token)

    def export(request: HttpRequest, fmt: str) -> HttpResponse:
        return export_view(model_admin, request, fmt)

    return [path("import/", wrap(import_page), name=_name(model_admin, "import")),
            path("import/<str:token>/report.csv", wrap(report_csv), name=_name(model_admin, "import_report")),
            path("export/<str:fmt>/", wrap(export), name=_name(model_admin, "export"))]


def _can_import(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    return model_admin.has_add_permission(request) and model_admin.has_change_permission(request)


def import_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """POST "check": validate the upload, keep it under a token (nothing written). POST
    "apply": queue the apply of the kept file. GET ?token=…: that upload's state and report."""
    if not _can_import(model_admin, request):
        raise PermissionDenied
    table, here = table_for(model_admin), reverse(f"admin:{_name(model_admin, 'import')}")
    if request.method == "POST" and "apply" in request.POST:
        token = request.POST.get("token", "")
        try:
            import_start(table.key, token, user_id=request.user.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(here)
        return HttpResponseRedirect(f"{here}?{urlencode({'token': token})}")
    form = FORMS[model_admin.model](request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            size_check(upload.size)
            token = import_check(table.key, upload.name, upload.read(), user_id=request.user.pk,
                                 options=form.options())
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return HttpResponseRedirect(f"{here}?{urlencode({'token': token})}")
    record, token = None, request.GET.get("token", "") if request.method == "GET" else ""
    if token:
        try:
            record = upload_record(token, table=table.key, user_id=request.user.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            token = ""
    report = Report.from_json(record["report"]) if record and record.get("report") else None
    opts = model_admin.opts
    context = {
        **model_admin.admin_site.each_context(request), "opts": opts, "form": form, "report": report,
        "token": token, "record": record, "columns": [c for c in table.columns if not c.readonly],
        "readonly_columns": [c for c in table.columns if c.readonly],
        "title": f"Импорт: {opts.verbose_name_plural}",
        "changelist_url": reverse(f"admin:{_name(model_admin, 'changelist')}"),
        "report_url": reverse(f"admin:{_name(model_admin, 'import_report')}", args=[token]) if report else "",
    }
    return TemplateResponse(request, "admin/hub/import.html", context)


def import_report_view(model_admin: admin.ModelAdmin, request: HttpRequest, token: str) -> HttpResponse:
    if not _can_import(model_admin, request):
        raise PermissionDenied
    table = table_for(model_admin)
    try:
        record = upload_record(token, table=table.key, user_id=request.user.pk)
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from exc
    if not record.get("report"):
        raise Http404("Отчёта ещё нет.")
    response = HttpResponse(Report.from_json(record["report"]).csv(), content_type=FORMATS["csv"])
    response["Content-Disposition"] = f'attachment; filename="{table.key}-import-report.csv"'
    return response


def export_view(model_admin: admin.ModelAdmin, request: HttpRequest, fmt: str) -> HttpResponse:
    """The list as filtered and searched on the changelist (its query string passed on)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    if fmt not in FORMATS:
        raise Http404
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        messages.error(request, "Фильтр списка не распознан; экспорт не выполнен.")
        return HttpResponseRedirect(reverse(f"admin:{_name(model_admin, 'changelist')}"))
    return table_export(table_for(model_admin)(), changelist.queryset, fmt)


@admin.action(description="Экспорт выбранных в CSV", permissions=["view"])
def export_csv(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> HttpResponse:
    return table_export(table_for(model_admin)(), queryset, "csv")


@admin.action(description="Экспорт выбранных в XLSX", permissions=["view"])
def export_xlsx(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> HttpResponse:
    return table_export(table_for(model_admin)(), queryset, "xlsx")
