from django.contrib import admin

from bookings.models import Preorder, PreorderLine
from bookings.services import preorder_changed


class PreorderLineInline(admin.TabularInline):
    model = PreorderLine
    extra = 0
    raw_id_fields = ("product",)


@admin.register(Preorder)
class PreorderAdmin(admin.ModelAdmin):
    list_display = ("pk", "contact", "scheduled_for", "status", "total", "updated_at")
    list_filter = ("status",)
    search_fields = ("contact__phone", "contact__last_name", "comment")
    raw_id_fields = ("contact",)
    readonly_fields = ("total",)
    inlines = [PreorderLineInline]
    date_hierarchy = "scheduled_for"

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        super().save_related(request, form, formsets, change)
        preorder_changed(form.instance)
