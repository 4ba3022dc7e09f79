"""Purchase limits per client: how much of what may be bought in a period."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.models.targeting import Targeted


class PurchaseLimit(Targeted):
    class Measure(models.TextChoices):
        RECEIPTS = "receipts", _("Receipts")
        QUANTITY = "quantity", _("Items")
        AMOUNT = "amount", _("Amount, roubles")

    class Period(models.TextChoices):
        DAY = "day", _("Calendar day")
        WEEK = "week", _("Calendar week")
        MONTH = "month", _("Calendar month")
        ROLLING = "rolling", _("Last N days")

    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="limits",
                                verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    measure = models.CharField(_("counts"), max_length=10, choices=Measure.choices)
    max_value = models.DecimalField(_("at most"), max_digits=12, decimal_places=2,
                                    help_text=_("In the unit chosen above: receipts, items or roubles."))
    period = models.CharField(_("period"), max_length=8, choices=Period.choices, default=Period.DAY)
    days = models.PositiveIntegerField(_("N days"), null=True, blank=True, help_text=_("For \"last N days\"."))

    class Meta:
        verbose_name = _("purchase limit")
        verbose_name_plural = _("purchase limits")

    def __str__(self) -> str:
        return self.name
