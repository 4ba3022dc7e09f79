"""The URLs the loyalty API's schema describes (only its own, under their real prefix)."""

from django.urls import include, path

urlpatterns = [path("api/loyalty/", include("loyalty.api_urls"))]
