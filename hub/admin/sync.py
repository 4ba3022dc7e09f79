import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hub.admin.history import HistoryAdmin
from hub.models import Connection, ExternalRef, Inbox, Outbox, SyncCursor
from hub.services.connections import connection_check, connection_register_webhook
from hub.services.inbox import inbox_replay
from hub.services.outbox import outbox_replay
from hub.sync import registry


def _pretty(value: object) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:900px'>{}</pre>",
                       json.dumps(value, ensure_ascii=False, indent=2, default=str))


class ConnectionForm(forms.ModelForm):
    system = forms.ChoiceField(label=_("system"), choices=())
    base_url = forms.URLField(label=_("base URL"), required=False, assume_scheme="https")
    credentials_update = forms.JSONField(
        label=_("set credentials"), required=False, initial=dict,
        help_text=_('JSON of credentials to set, e.g. {"token": "…"}. Stored secrets are never shown; '
                    'keys not given are kept, a key set to null is removed.'),
    )

    class Meta:
        model = Connection
        fields = ("name", "system", "base_url", "settings", "time_zone", "enabled", "poll_interval", "key")

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["system"].choices = registry.systems()

    def clean_credentials_update(self):  # type: ignore[no-untyped-def]
        value = self.cleaned_data.get("credentials_update") or {}
        if not isinstance(value, dict):
            raise ValidationError(_("Credentials must be a JSON object."))
        return value

    def save(self, commit=True):  # type: ignore[no-untyped-def]
        connection = super().save(commit=False)
        # Start from what is stored now, not from when the form was opened: a worker may have
        # rotated a single-use refresh token meanwhile, and saving the old one loses the CRM.
        current = Connection.objects.select_for_update().get(pk=connection.pk).credentials if connection.pk else {}
        credentials = dict(current or {})
        for key, value in self.cleaned_data.get("credentials_update", {}).items():
            if value is None:
                credentials.pop(key, None)
            else:
                credentials[key] = value
        connection.credentials = credentials
        if commit:
            connection.save()
        return connection


@admin.register(Connection)
class ConnectionAdmin(HistoryAdmin):
    form = ConnectionForm
    list_display = ("name", "system", "enabled", "last_pull_at", "last_push_at", "short_error")
    list_filter = ("system", "enabled")
    search_fields = ("name", "base_url")
    readonly_fields = ("webhook_url", "setup_links", "credential_keys", "last_pull_at", "last_push_at", "last_error",
                       "last_error_at", "created_at", "updated_at")
    actions = ["check_connections", "pull_now", "register_webhooks"]

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, obj: Connection) -> str:
        return f"{settings.HUB_PUBLIC_URL}{obj.webhook_path}" if obj.pk else "—"

    @admin.display(description=_("set-up"))
    def setup_links(self, obj: Connection) -> str:
        if not obj.pk:
            return "—"
        links = [format_html('<a href="{}">{}</a>', reverse("connection_wizard_step", args=[obj.pk, "check"]),
                             _("Open in the connection wizard"))]
        if obj.system not in ("amocrm", "bitrix24"):
            return links[0]
        sandbox = obj.settings.get("sandbox_ui")
        links += [format_html('<a href="{}">{}</a>', reverse("crm_routing", args=[obj.pk]),
                              _("Pipelines, routing and card fields")),
                  format_html('<a href="{}">{}</a>', reverse("events_setup", args=[obj.pk]),
                              _("Events on the site"))]
        if sandbox:
            links.append(format_html('<a href="{}" target="_blank">{}</a>', sandbox, _("Open the CRM emulator")))
        return format_html(" · ".join(["{}"] * len(links)), *links)

    @admin.display(description=_("stored credentials"))
    def credential_keys(self, obj: Connection) -> str:
        keys = sorted((obj.credentials or {}).keys())
        return ", ".join(f"{k}: ••••" for k in keys) or "—"

    @admin.display(description=_("last error"))
    def short_error(self, obj: Connection) -> str:
        return (obj.last_error or "")[:80]

    @admin.action(description=_("Test connection"), permissions=["change"])
    def check_connections(self, request, queryset):  # type: ignore[no-untyped-def]
        for connection in queryset:
            result = connection_check(connection)
            self.message_user(request, f"{connection.name}: {result.message}",
                              messages.SUCCESS if result.ok else messages.ERROR)

    @admin.action(description=_("Register the webhook URL with the system (bots)"), permissions=["change"])
    def register_webhooks(self, request, queryset):  # type: ignore[no-untyped-def]
        for connection in queryset:
            result = connection_register_webhook(connection)
            self.message_user(request, f"{connection.name}: {result.message}",
                              messages.SUCCESS if result.ok else messages.WARNING)

    @admin.action(description=_("Pull now (in the background)"), permissions=["change"])
    def pull_now(self, request, queryset):  # type: ignore[no-untyped-def]
        from hub.tasks import connection_pull_task

        for connection in queryset:
            connector = registry.get(connection.system)
            if connector is None or not connector.can_pull:
                self.message_user(request, _("%(name)s: this system sends webhooks, it is not pulled.")
                                  % {"name": connection.name}, messages.WARNING)
                continue
            connection_pull_task.delay(connection.pk)
            self.message_user(request, _("%(name)s: pull started; see “last successful pull”.")
                              % {"name": connection.name}, messages.SUCCESS)


class QueueAdminMixin:
    """Inbox and Outbox: read-only rows, pretty payload, short error, Replay action."""

    error_field = "error"
    replay_service = staticmethod(lambda ids: 0)
    replayed_message = ""
    actions = ["replay"]

    @admin.display(description=_("payload"))
    def payload_pretty(self, obj) -> str:  # type: ignore[no-untyped-def]
        return _pretty(obj.payload)

    @admin.display(description=_("error"))
    def short_error(self, obj) -> str:  # type: ignore[no-untyped-def]
        return (getattr(obj, self.error_field) or "")[:80]

    @admin.action(description=_("Replay"), permissions=["change"])
    def replay(self, request, queryset):  # type: ignore[no-untyped-def]
        count = self.replay_service(queryset.values_list("pk", flat=True))
        self.message_user(request, self.replayed_message % {"n": count}, messages.SUCCESS)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Outbox)
class OutboxAdmin(QueueAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "created_at", "connection", "action", "target_kind", "target_id", "status", "attempts",
                    "next_attempt_at", "short_error")
    list_filter = ("status", "connection", "action", "created_at")
    search_fields = ("action", "=target_id", "last_error", "external_id")
    readonly_fields = ("connection", "action", "target_kind", "target_id", "payload_pretty", "status", "attempts",
                       "next_attempt_at", "locked_until", "last_error", "external_id", "created_at", "sent_at")
    exclude = ("payload", "claim_token")
    date_hierarchy = "created_at"
    list_select_related = ("connection",)
    error_field = "last_error"
    replay_service = staticmethod(outbox_replay)
    replayed_message = _("%(n)d message(s) queued again.")


@admin.register(Inbox)
class InboxAdmin(QueueAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "received_at", "source", "event_key", "kind", "status", "attempts", "short_error")
    list_filter = ("status", "connection", "kind", "received_at")
    search_fields = ("event_key", "source", "error")
    readonly_fields = ("connection", "source", "event_key", "kind", "payload_pretty", "raw_body", "headers",
                       "status", "attempts", "error", "received_at", "processed_at")
    exclude = ("payload",)
    date_hierarchy = "received_at"
    replay_service = staticmethod(inbox_replay)
    replayed_message = _("%(n)d event(s) queued again.")


@admin.register(ExternalRef)
class ExternalRefAdmin(admin.ModelAdmin):
    list_display = ("connection", "kind", "local_id", "external_id", "missing_since", "updated_at")
    list_filter = ("connection", "kind", ("missing_since", admin.EmptyFieldListFilter))
    search_fields = ("external_id", "=local_id")


@admin.register(SyncCursor)
class SyncCursorAdmin(admin.ModelAdmin):
    list_display = ("connection", "entity", "value", "updated_at")
    list_filter = ("connection",)
