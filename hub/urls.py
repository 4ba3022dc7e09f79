from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from connectors.crm.views import crm_routing
from events.setup_views import event_setup_page
from events.views import event_report_view
from hub.views.audit import audit_log_view
from hub.views.health import healthz
from hub.views.metrics import metrics_view
from hub.views.webhooks import webhook_receive
from mailings.views import nps_page, unsubscribe_page

admin.site.site_header = "Hub"
admin.site.site_title = "Hub"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("hooks/<slug:system>/<slug:key>/", webhook_receive, name="webhook"),
    path("m/nps/<slug:token>/", nps_page, name="nps"),
    path("m/unsubscribe/<str:token>/", unsubscribe_page, name="unsubscribe"),
    path("admin/crm/<int:pk>/routing/", crm_routing, name="crm_routing"),
    path("admin/events/report/", event_report_view, name="events_report"),
    path("admin/crm/<int:pk>/events/", event_setup_page, name="events_setup"),
    path("admin/audit/", audit_log_view, name="audit_log"),
    path("admin/analytics/", include("analytics.urls")),
    path("admin/connections/wizard/", include("connectors.wizard.urls")),
    path("cabinet/", include("cabinet.urls")),
    path("api/cabinet/", include("cabinet.api_urls")),
    path("api/loyalty/", include("loyalty.api_urls")),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
