"""The connection wizard (/admin/connections/wizard/…)."""

from django.urls import path

from connectors.wizard.views import wizard_start, wizard_step

urlpatterns = [
    path("", wizard_start, name="connection_wizard"),
    path("<int:pk>/<slug:step>/", wizard_step, name="connection_wizard_step"),
]
