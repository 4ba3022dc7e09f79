"""Bots in the admin: the texts the bot says (every key listed with its default, the operator's
wording replaces it) and the chats with where each stands."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from bots.models import BotChat, BotText
from bots.texts import DEFAULTS, bot_text_check


class BotTextForm(forms.ModelForm):
    key = forms.ChoiceField(label=_("key"), choices=[(k, k) for k in DEFAULTS])

    class Meta:
        model = BotText
        fields = ("key", "text")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        key = self.initial.get("key") or (self.data.get("key") if self.data else "")
        if not self.instance.pk and key in DEFAULTS and not self.data:
            self.initial["text"] = DEFAULTS[key]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("key") and data.get("text"):
            try:
                bot_text_check(data["key"], data["text"])
            except ValidationError as exc:
                raise ValidationError({"text": exc.messages}) from exc
        return data


@admin.register(BotText)
class BotTextAdmin(admin.ModelAdmin):
    form = BotTextForm
    list_display = ("key", "text", "updated_at")
    search_fields = ("key", "text")
    readonly_fields = ("default_text",)

    @admin.display(description=_("default text"))
    def default_text(self, obj: BotText) -> str:
        return DEFAULTS.get(obj.key, "") if obj and obj.pk else _("Choose a key: its default text is filled in.")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        customised = set(BotText.objects.values_list("key", flat=True))
        extra = {"subtitle": _("Keys still using the default text: %(keys)s")
                 % {"keys": ", ".join(k for k in DEFAULTS if k not in customised) or "—"}}
        return super().changelist_view(request, {**(extra_context or {}), **extra})


@admin.register(BotChat)
class BotChatAdmin(admin.ModelAdmin):
    list_display = ("user_id", "channel", "connection", "contact", "state", "updated_at")
    list_filter = ("channel", "state", "connection")
    search_fields = ("user_id",)
    readonly_fields = ("connection", "channel", "user_id", "contact", "phone", "first_name", "last_name",
                       "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
