"""The URLs the cabinet API's schema describes (only its own, under their real prefix)."""

from django.urls import include, path

urlpatterns = [path("api/cabinet/", include("cabinet.api_urls"))]
