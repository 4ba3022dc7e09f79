"""Levels of a program: a client's level follows what they earned or spent in a rolling
window; promotion is at once, a downgrade waits out a grace period; every change is kept."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.Model):
    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="tiers",
                                verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=80)
    threshold = models.DecimalField(
        _("threshold"), max_digits=14, decimal_places=2,
        help_text=_("Points earned (or money spent) in the program's window needed for this level."))
    earn_percent = models.DecimalField(
        _("points, percent of the amount"), max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("The base rate on this level, instead of the program's and categories' rates. Empty: theirs."))
    max_redeem_share = models.DecimalField(
        _("max share of an order payable by points, %"), max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("Empty: the program's."))
    privileges = models.TextField(_("privileges"), blank=True,
                                  help_text=_("What the level gives besides points, shown to the client and staff."))

    class Meta:
        verbose_name = _("level")
        verbose_name_plural = _("levels")
        ordering = ["program", "threshold"]
        constraints = [models.UniqueConstraint(fields=["program", "name"], name="uniq_tier_name"),
                       models.UniqueConstraint(fields=["program", "threshold"], name="uniq_tier_threshold")]

    def __str__(self) -> str:
        return self.name


class TierChange(models.Model):
    account = models.ForeignKey("loyalty.Account", on_delete=models.CASCADE, related_name="tier_changes",
                                verbose_name=_("account"))
    from_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name=_("from"))
    to_tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("to"))
    value = models.DecimalField(_("level metric"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=255)
    changed_at = models.DateTimeField(_("changed"), db_index=True)

    class Meta:
        verbose_name = _("level change")
        verbose_name_plural = _("level changes")
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.from_tier or '—'} → {self.to_tier or '—'}"
