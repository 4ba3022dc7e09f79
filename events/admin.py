from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from events.models import EventDate, EventSetup, EventTemplate, TicketSale
from events.services.publishing import event_date_publish, event_template_publish, site_id_of


@admin.register(EventSetup)
class EventSetupAdmin(admin.ModelAdmin):
    """Edited on its own page (stage and field dropdowns come from the CRM): here a list."""

    list_display = ("crm", "site", "enabled", "edit_link", "report_link")
    readonly_fields = ("crm", "site")

    def has_add_permission(self, request):  # made from the CRM connection's "Events on the site" page
        return False

    @admin.display(description=_("set-up"))
    def edit_link(self, obj: EventSetup) -> str:
        return format_html('<a href="{}">{}</a>', reverse("events_setup", args=[obj.crm_id]), _("Edit"))

    @admin.display(description=_("report"))
    def report_link(self, obj: EventSetup) -> str:
        return format_html('<a href="{}?setup={}">{}</a>', reverse("events_report"), obj.pk, _("Monthly report"))


class SyncedAdmin(admin.ModelAdmin):
    list_filter = ("sync_state", "setup")
    actions = ["send_again"]
    publish = staticmethod(event_template_publish)

    @admin.action(description=_("Send to the site again"), permissions=["change"])
    def send_again(self, request, queryset):
        for item in queryset.select_related("setup__site", "setup__crm"):
            self.publish(item, force=True)
        self.message_user(request, _("Queued: %d.") % queryset.count())

    @admin.display(description=_("site id"))
    def site_id(self, obj):
        return site_id_of(obj) or "—"

    def has_add_permission(self, request):  # they come from CRM deals
        return False


@admin.register(EventTemplate)
class EventTemplateAdmin(SyncedAdmin):
    list_display = ("title", "crm_deal_id", "site_id", "sync_state", "sync_error", "image_error", "synced_at")
    search_fields = ("title", "crm_deal_id")
    list_select_related = ("setup__site",)
    readonly_fields = ("setup", "crm_deal_id", "title", "description_html", "image_url", "image_type", "image_error",
                       "sync_state", "sync_error", "synced_at", "site_id", "created_at", "updated_at")

    def get_queryset(self, request):  # the picture (up to megabytes) is not shown in lists
        return super().get_queryset(request).defer("image")


@admin.register(EventDate)
class EventDateAdmin(SyncedAdmin):
    publish = staticmethod(event_date_publish)
    list_display = ("title", "starts_at", "template", "crm_deal_id", "site_id", "sync_state", "sync_error",
                    "deal_problem")
    search_fields = ("title", "crm_deal_id", "speaker", "host")
    list_select_related = ("setup__site", "template")

    readonly_fields = ("setup", "crm_deal_id", "template", "idea_deal_id", "template_site_id", "title", "starts_at",
                       "speaker", "host",
                       "reached_stages", "deal_problem", "sync_state", "sync_error", "synced_at", "site_id",
                       "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("template__image")


@admin.register(TicketSale)
class TicketSaleAdmin(admin.ModelAdmin):
    list_display = ("order_id", "event", "site_event_id", "status", "tickets", "amount", "sold_at")
    list_filter = ("status", "site")
    search_fields = ("order_id", "site_event_id")
    raw_id_fields = ("contact", "purchase", "event")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):  # they come from the site's webhook
        return False
