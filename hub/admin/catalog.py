from typing import Any

from django.contrib import admin

from hub.imports.admin import export_csv, export_xlsx, import_export_urls
from hub.models import Product, ProductCategory, ServicePoint


@admin.register(ProductCategory)
class ProductCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "parent")
    search_fields = ("name",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "category", "base_price", "active")
    list_filter = ("kind", "active", "category")
    search_fields = ("name", "sku")
    actions = [export_csv, export_xlsx]

    def get_urls(self) -> list[Any]:
        return [*import_export_urls(self), *super().get_urls()]


@admin.register(ServicePoint)
class ServicePointAdmin(admin.ModelAdmin):
    list_display = ("name", "kind")
    search_fields = ("name",)
