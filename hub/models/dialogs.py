"""Bot and chat history attached to a contact."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models.contacts import Contact


class DialogMessage(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("From client")
        OUT = "out", _("To client")

    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="dialog_messages", verbose_name=_("contact"))
    channel = models.CharField(_("channel"), max_length=16, help_text=_("telegram, vk, whatsapp, sms…"))
    chat_id = models.CharField(_("chat id"), max_length=64)
    external_id = models.CharField(_("message id"), max_length=128, blank=True)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    text = models.TextField(_("text"), blank=True)
    payload = models.JSONField(_("raw payload"), default=dict, blank=True)
    sent_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("dialog message")
        verbose_name_plural = _("dialog messages")
        ordering = ["sent_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "chat_id", "direction", "external_id"],
                condition=~models.Q(external_id=""),
                name="uniq_dialog_message",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.get_direction_display()} {self.sent_at:%Y-%m-%d %H:%M}"
