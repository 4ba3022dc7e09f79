"""Earning rules: evaluated in their order on every receipt of the program; each one with
its targeting (what, where, when, whom) and effect."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.models.targeting import Holdout, Targeted


class EarningRule(Targeted, Holdout):
    class Effect(models.TextChoices):
        # xgettext:no-python-format
        RATE = "rate", _("Base rate: points, % of the amount (replaces the rate)")
        MULTIPLY = "multiply", _("Multiplier of the points")
        # xgettext:no-python-format
        CASHBACK_POINTS = "cashback_points", _("Cashback in points, % of the amount (added)")
        # xgettext:no-python-format
        CASHBACK_DEPOSIT = "cashback_deposit", _("Cashback in money to the deposit, % of the amount")
        BONUS = "bonus", _("Fixed points per receipt")

    class Occasion(models.TextChoices):
        ANY = "any", _("Any receipt")
        BIRTHDAY = "birthday", _("Around the client's birthday")
        FIRST_PURCHASE = "first_purchase", _("The client's first purchase")

    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="rules",
                                verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("evaluation order"), default=100,
                                           help_text=_("Rules are applied from the smallest number up."))
    active = models.BooleanField(_("active"), default=True)
    effect = models.CharField(_("effect"), max_length=16, choices=Effect.choices)
    value = models.DecimalField(
        _("value"), max_digits=12, decimal_places=2,
        help_text=_("Percent for a rate or cashback, a factor for a multiplier (1.5), points for a fixed bonus."))
    max_points = models.DecimalField(_("at most per receipt"), max_digits=14, decimal_places=2, null=True,
                                     blank=True, help_text=_("Points (or cashback money) this rule adds at most."))
    occasion = models.CharField(_("when"), max_length=16, choices=Occasion.choices, default=Occasion.ANY)
    birthday_days = models.PositiveIntegerField(
        _("days around the birthday"), default=0,
        help_text=_("Birthday rules: this many days before and after count too."))
    service_points = models.ManyToManyField("hub.ServicePoint", blank=True, related_name="+",
                                            verbose_name=_("service points"), help_text=_("Empty: anywhere."))
    weekdays = models.CharField(_("days of the week"), max_length=7, blank=True,
                                help_text=_("Digits 1 (Monday) to 7 (Sunday), e.g. 67 for weekends. Empty: every day."))
    hour_from = models.PositiveSmallIntegerField(_("from hour"), null=True, blank=True)
    hour_to = models.PositiveSmallIntegerField(_("until hour"), null=True, blank=True,
                                               help_text=_("Local time; 10 to 14 means 10:00–13:59."))
    starts_at = models.DateTimeField(_("valid from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("valid until"), null=True, blank=True)
    tiers = models.ManyToManyField("loyalty.Tier", blank=True, related_name="+", verbose_name=_("levels"),
                                   help_text=_("Empty: every level (and clients without one)."))
    segment = models.ForeignKey("hub.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("segment"), help_text=_("Empty: every client."))
    stop = models.BooleanField(_("stop here"), default=False,
                               help_text=_("When this rule applies, the rules after it are not evaluated."))

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["program", "position", "pk"]

    def __str__(self) -> str:
        return self.name
