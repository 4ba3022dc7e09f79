"""/api/cabinet/: the client cabinet's JSON API and its OpenAPI schema."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from cabinet import api

app_name = "cabinet_api"
urlpatterns = [
    path("auth/code/", api.CodeView.as_view(), name="code"),
    path("auth/verify/", api.VerifyView.as_view(), name="verify"),
    path("auth/logout/", api.LogoutView.as_view(), name="logout"),
    path("me/", api.MeView.as_view(), name="me"),
    path("consents/withdraw/", api.WithdrawView.as_view(), name="withdraw"),
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny],
                                               urlconf="cabinet.schema_urls"),
         name="schema"),
]
