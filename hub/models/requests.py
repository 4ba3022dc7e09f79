"""What a client asked of the business through a bot or a site: a lead to work on, or a
request to be called back by a manager. The CRM gets a deal or a to-do from it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models.contacts import Contact
from hub.models.sync import Connection


class ClientRequest(models.Model):
    class Kind(models.TextChoices):
        LEAD = "lead", _("Lead (form, order enquiry)")
        CALLBACK = "callback", _("Contact a manager")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    key = models.CharField(_("idempotency key"), max_length=160, unique=True,
                           help_text=_("Where it came from (form + tranid, chat + message); a repeat is one request."))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="requests", verbose_name=_("contact"))
    source = models.CharField(_("source"), max_length=16, help_text=_("telegram, vk, tilda, cabinet…"))
    origin = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", verbose_name=_("received through"))
    title = models.CharField(_("title"), max_length=255, blank=True)
    text = models.TextField(_("text"), blank=True)
    payload = models.JSONField(_("what the client sent"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("client request")
        verbose_name_plural = _("client requests")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
