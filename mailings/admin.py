"""Mailings in the admin: templates (with a preview on a real client), campaigns (filters as
fields, channels in order, preview count and sample before sending, the schedule as a
django-celery-beat task), runs, every message with its status, NPS answers."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from hub.admin.segments import ContactFilterForm
from hub.logging import mask_phone
from hub.models import Connection, Contact
from hub.segments import ContactFilter
from loyalty.selectors import balance_for
from mailings.models import Campaign, CampaignRun, Channel, Message, NpsSurvey, OneTimeCode, Template
from mailings.services.campaigns import RUN_KINDS, campaign_check, campaign_preview, campaign_run
from mailings.services.outgoing import contact_context
from mailings.services.resend import messages_resend
from mailings.services.schedules import campaign_save
from mailings.services.texts import template_check, text_render

CHANNEL_SLOTS = 4
SAMPLE_CONTEXT = {"child_name": "Маша", "child_age": 7, "bonus_points": 500, "booking_date": "24.12.2026 15:00",
                  "deal_title": "Праздник в зале «Джунгли»", "nps_link": "https://…/m/nps/пример/"}


class TemplateForm(forms.ModelForm):
    class Meta:
        model = Template
        fields = ("name", "subject", "body")

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        template_check(body)
        return body

    def clean_subject(self) -> str:
        subject = self.cleaned_data["subject"]
        template_check(subject)
        return subject


class PreviewForm(forms.Form):
    contact = forms.ModelChoiceField(Contact.objects.filter(merged_into__isnull=True), label="Клиент",
                                     widget=forms.NumberInput, help_text="Номер (ID) клиента из раздела «Клиенты».")


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ("name", "version", "updated_at")
    readonly_fields = ("version", "preview_link")
    search_fields = ("name", "body")

    @admin.display(description="Предпросмотр")
    def preview_link(self, obj: Template) -> str:
        if not obj.pk:
            return "—"
        return format_html('<a href="{}">Посмотреть текст для реального клиента</a>',
                           reverse("admin:mailings_template_preview", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        return [path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view),
                     name="mailings_template_preview"), *super().get_urls()]

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        template = get_object_or_404(Template, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        form = PreviewForm(request.GET or None)
        rendered = None
        if form.is_valid():
            contact = form.cleaned_data["contact"]
            context = SAMPLE_CONTEXT | contact_context(contact, balance_for(contact).total, timezone.localdate())
            child = contact.children_links.select_related("child").first()
            if child is not None:
                context["child_name"] = child.child.first_name
            rendered = {"subject": text_render(template.subject, context) if template.subject else "",
                        "text": text_render(template.body, context), "contact": contact}
        context = {**self.admin_site.each_context(request), "title": f"Предпросмотр: {template}", "form": form,
                   "template": template, "rendered": rendered, "opts": self.model._meta}
        return TemplateResponse(request, "admin/mailings/template_preview.html", context)


class CampaignForm(ContactFilterForm, forms.ModelForm):
    """Segment conditions as fields (not JSON), channels as an ordered list of choices."""

    class Meta:
        model = Campaign
        fields = ("name", "kind", "active", "template", "marketing", "time_zone", "send_time", "quiet_from",
                  "quiet_to", "days_before", "audience", "lapsed_days", "inactivity", "cooldown_days", "bonus_points",
                  "bonus_expiry_days", "crm_connection", "from_pipeline", "from_stage", "to_pipeline", "to_stage",
                  "scheduled_at", "trigger", "holdout_percent")

    channel_1 = forms.ChoiceField(label="Канал 1", choices=Channel.choices,
                                  help_text="Если клиента нет в этом канале (или нет согласия, или сообщение "
                                            "не дошло) — следующий.")
    channel_2 = forms.ChoiceField(label="Канал 2", choices=[("", "—"), *Channel.choices], required=False)
    channel_3 = forms.ChoiceField(label="Канал 3", choices=[("", "—"), *Channel.choices], required=False)
    channel_4 = forms.ChoiceField(label="Канал 4", choices=[("", "—"), *Channel.choices], required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["holdout_percent"].required = False
        self.fields["crm_connection"].queryset = Connection.objects.filter(system__in=["amocrm", "bitrix24"])
        if self.instance.pk and not self.is_bound:
            spec = ContactFilter.from_rules(self.instance.rules)
            self.initial.update(spec.to_rules())
            self.initial["segment"] = self.instance.segment_id
            for n, channel in enumerate(self.instance.channels or [], start=1):
                self.initial[f"channel_{n}"] = channel

    def clean_holdout_percent(self) -> int:
        return self.cleaned_data.get("holdout_percent") or 0

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        channels = [data.get(f"channel_{n}") for n in range(1, CHANNEL_SLOTS + 1)]
        channels = [c for c in channels if c]
        if len(set(channels)) != len(channels):
            self.add_error("channel_1", "Каждый канал — один раз.")
        if self.errors:
            return data
        self.instance.channels = channels
        self.instance.rules = self.contact_filter().to_rules()
        self.instance.segment = data.get("segment")
        for name in ("kind", "lapsed_days", "crm_connection", "to_stage", "trigger", "bonus_points", "holdout_percent",
                     "marketing"):
            if name in data:
                setattr(self.instance, name, data[name])
        try:
            campaign_check(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data


class RunInline(admin.TabularInline):
    model = CampaignRun
    extra = 0
    can_delete = False
    fields = ("key", "started_at", "finished_at", "selected", "queued", "unreachable", "actor")
    readonly_fields = fields
    max_num = 0
    ordering = ("-started_at",)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "kind", "active", "channels_display", "schedule", "last_run", "send_link")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    inlines = [RunInline]
    list_select_related = ("periodic_task",)
    readonly_fields = ("schedule",)
    fieldsets = [
        (None, {"fields": ("name", "kind", "active", "template", "marketing")}),
        ("Каналы", {"fields": tuple(f"channel_{n}" for n in range(1, CHANNEL_SLOTS + 1))}),
        ("Когда", {"fields": ("time_zone", "send_time", "quiet_from", "quiet_to", "scheduled_at", "schedule")}),
        ("День рождения", {"fields": ("days_before", "audience"), "classes": ("collapse",)}),
        ("Давно не были", {"fields": ("lapsed_days", "inactivity", "cooldown_days"), "classes": ("collapse",)}),
        ("Баллы", {"fields": ("bonus_points", "bonus_expiry_days"), "classes": ("collapse",)}),
        ("Контрольная группа", {"fields": ("holdout_percent",), "classes": ("collapse",)}),
        ("CRM: NPS и события по сделкам", {"fields": ("crm_connection", "from_pipeline", "from_stage",
                                                      "to_pipeline", "to_stage", "trigger"),
                                          "classes": ("collapse",)}),
        ("Сегмент: кому", {"fields": ("segment", "category", "birth_month", "not_visited_days",
                                      "visited_within_days", "tags", "child_age_from", "child_age_to",
                                      "spend_from", "spend_to", "bonus_from", "bonus_to", "deal_connection",
                                      "deal_pipeline", "deal_stage", "deal_from", "deal_to", "lifecycle",
                                      "bought_category", "bought_within_days"),
                           "classes": ("collapse",)}),
    ]

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        campaign_save(obj)

    @admin.display(description="Каналы")
    def channels_display(self, obj: Campaign) -> str:
        return " → ".join(str(Channel(c).label) for c in obj.channels if c in Channel.values)

    @admin.display(description="Расписание")
    def schedule(self, obj: Campaign) -> str:
        if obj.periodic_task_id is None:
            return "по событиям" if obj.kind not in RUN_KINDS else "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:django_celery_beat_periodictask_change",
                                                          args=[obj.periodic_task_id]), obj.periodic_task)

    @admin.display(description="Последний запуск")
    def last_run(self, obj: Campaign) -> str:
        run = obj.runs.first()
        return f"{run.key}: {run.queued} сообщ." if run else "—"

    @admin.display(description="")
    def send_link(self, obj: Campaign) -> str:
        if obj.kind not in RUN_KINDS:
            return ""
        return format_html('<a href="{}">Проверить и отправить</a>', reverse("admin:mailings_campaign_send",
                                                                             args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        return [path("<int:pk>/send/", self.admin_site.admin_view(self.send_view), name="mailings_campaign_send"),
                *super().get_urls()]

    def send_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Count and sample first; the confirmation carries a one-time key, so a double click
        (or a reload) is the same run."""
        campaign = get_object_or_404(Campaign.objects.select_related("template", "segment"), pk=pk)
        if not self.has_change_permission(request, campaign):
            raise PermissionDenied
        if request.method == "POST":
            token = str(request.POST.get("token") or "")[:64]
            try:
                run = campaign_run(campaign, key=f"manual:{token}", actor=request.user)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, f"Поставлено в очередь сообщений: {run.queued}; "
                                           f"недоступны ни в одном канале: {run.unreachable}.")
                return HttpResponseRedirect(reverse("admin:mailings_campaign_change", args=[pk]))
        count, sample = campaign_preview(campaign)
        sample_texts = []
        for contact in sample[:3]:
            context = SAMPLE_CONTEXT | contact_context(contact, None, timezone.localdate())
            sample_texts.append((contact, text_render(campaign.template.body, context)))
        context = {**self.admin_site.each_context(request), "title": f"Отправка: {campaign}", "campaign": campaign,
                   "count": count, "sample": sample, "sample_texts": sample_texts, "token": uuid.uuid4().hex,
                   "opts": self.model._meta}
        return TemplateResponse(request, "admin/mailings/campaign_send.html", context)


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CampaignRun)
class CampaignRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("campaign", "key", "started_at", "finished_at", "selected", "queued", "unreachable", "actor")
    list_filter = ("campaign",)
    list_select_related = ("campaign", "actor")


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("pk", "created_at", "campaign", "contact", "channel", "status", "error_short", "provider_id")
    list_filter = ("status", "channel", "campaign")
    search_fields = ("provider_id", "key")
    list_select_related = ("campaign", "contact")
    actions = ["send_again"]
    date_hierarchy = "created_at"

    @admin.display(description="Ошибка")
    def error_short(self, obj: Message) -> str:
        return obj.error[:80]

    @admin.action(description="Отправить снова (неудавшиеся)", permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: Any) -> None:
        count = messages_resend(queryset.values_list("pk", flat=True))
        self.message_user(request, f"Снова в очереди: {count}.")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and request.user.has_perm("mailings.change_message")  # the action, not the form


@admin.register(NpsSurvey)
class NpsSurveyAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("created_at", "contact", "campaign", "score", "comment", "answered_at", "answer_channel",
                    "deal_id")
    list_filter = ("campaign", "score", "answer_channel")
    list_select_related = ("contact", "campaign")


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ReadOnly, admin.ModelAdmin):
    """For support ("my code does not come", "I am locked out"): never the code, the phone masked;
    search by the exact E.164 number."""

    list_display = ("created_at", "masked_phone", "purpose", "channel", "message", "attempts", "used_at",
                    "expires_at", "locked_until")
    list_filter = ("purpose", "channel")
    search_fields = ("=phone",)
    fields = ("masked_phone", "purpose", "channel", "message", "created_at", "expires_at", "attempts", "used_at",
              "locked_until")
    readonly_fields = fields
    date_hierarchy = "created_at"

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: OneTimeCode) -> str:
        return mask_phone(obj.phone)
