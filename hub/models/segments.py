"""Saved contact selections: an operator composes the rules once (in admin) and picks the
segment by name for grants, mass accruals and mailings."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(_("rules"), default=dict, blank=True,
                             help_text=_("The filter fields (category, birth month, visits, tags, CRM deals)."))
    size = models.PositiveIntegerField(_("clients"), null=True, blank=True, editable=False,
                                       help_text=_("Counted daily."))
    counted_on = models.DateField(_("counted on"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
