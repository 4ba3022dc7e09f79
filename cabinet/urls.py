"""Client cabinet: pages under /cabinet/, the JSON API under /api/cabinet/ (see api_urls)."""

from django.urls import path

app_name = "cabinet"
urlpatterns: list = []
