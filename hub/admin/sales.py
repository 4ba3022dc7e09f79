from django.contrib import admin

from hub.models import Pass, Purchase, PurchaseLine


class PurchaseLineInline(admin.TabularInline):
    model = PurchaseLine
    extra = 0
    raw_id_fields = ("product", "holder")


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = ("purchased_at", "number", "contact", "total", "status", "sales_point")
    list_filter = ("status", "purchased_at")
    search_fields = ("number", "contact__phone", "contact__last_name")
    date_hierarchy = "purchased_at"
    raw_id_fields = ("contact", "card")
    inlines = [PurchaseLineInline]


@admin.register(Pass)
class PassAdmin(admin.ModelAdmin):
    list_display = ("passed_at", "service_point", "product", "contact", "card", "amount", "operator")
    list_filter = ("service_point", "passed_at")
    search_fields = ("contact__phone", "card__code", "operator")
    date_hierarchy = "passed_at"
    raw_id_fields = ("contact", "card", "product")
    list_select_related = ("service_point", "product", "contact", "card")
