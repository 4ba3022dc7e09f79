"""Analytics pages in the admin (/admin/analytics/…): the index (``analytics_index``) and one
page per entry of analytics.pages.PAGES (``analytics_<name>``)."""

from django.contrib import admin
from django.urls import path

from analytics.pages import PAGES
from analytics.views.index import index_view

urlpatterns = [
    path("", admin.site.admin_view(index_view), name="analytics_index"),
    *(path(f"{page.name}/", page.as_view(), name=page.url_name) for page in PAGES),
]
