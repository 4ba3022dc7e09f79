"""/api/loyalty/: the loyalty API for tills and sites, and its OpenAPI schema."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from loyalty import api

app_name = "loyalty_api"
urlpatterns = [
    path("calculate/", api.CalculateView.as_view(), name="calculate"),
    path("confirm/", api.ConfirmView.as_view(), name="confirm"),
    path("refund/", api.RefundView.as_view(), name="refund"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny],
                                               urlconf="loyalty.schema_urls"),
         name="schema"),
]
