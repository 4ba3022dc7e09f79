"""Keys of the tills and sites that call the loyalty API (calculate, confirm, refund)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    name = models.CharField(_("name"), max_length=120, help_text=_("Which till or site uses it."))
    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="api_keys",
                                verbose_name=_("program"))
    service_point = models.ForeignKey("hub.ServicePoint", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", verbose_name=_("service point"),
                                      help_text=_("Where its receipts are made (rules by service point read it)."))
    prefix = models.CharField(_("key starts with"), max_length=12, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
