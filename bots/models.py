"""Bot conversations: where each chat stands (consent, phone, menu) and the texts the bot says,
editable by the operator."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models import Connection, Contact


class BotChat(models.Model):
    class State(models.TextChoices):
        NEW = "new", _("New")
        AWAIT_CONSENT = "await_consent", _("Asked for personal-data consent")
        AWAIT_MARKETING = "await_marketing", _("Asked for marketing consent")
        AWAIT_PHONE = "await_phone", _("Asked for the phone number")
        AWAIT_CODE = "await_code", _("Waiting for the confirmation code")
        MENU = "menu", _("Registered (menu)")
        AWAIT_QUESTION = "await_question", _("Writing to a manager")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="bot_chats",
                                   verbose_name=_("bot"))
    channel = models.CharField(_("channel"), max_length=16)
    user_id = models.CharField(_("user id"), max_length=64, help_text=_("Telegram or VK user id; also the chat."))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="bot_chats",
                                verbose_name=_("contact"))
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.NEW)
    phone = models.CharField(_("phone being confirmed"), max_length=20, blank=True)
    first_name = models.CharField(_("first name in the messenger"), max_length=150, blank=True)
    last_name = models.CharField(_("last name in the messenger"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("first contact"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last activity"), auto_now=True)

    class Meta:
        verbose_name = _("bot chat")
        verbose_name_plural = _("bot chats")
        constraints = [models.UniqueConstraint(fields=["connection", "user_id"], name="uniq_bot_chat")]

    def __str__(self) -> str:
        return f"{self.channel} {self.user_id}"


class BotText(models.Model):
    """An operator's wording of one thing the bot says; a key without a row uses the default."""

    key = models.CharField(_("key"), max_length=40, unique=True)
    text = models.TextField(_("text"), help_text=_("Django template syntax: {{ name }}, {% if %}…"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("bot text")
        verbose_name_plural = _("bot texts")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
