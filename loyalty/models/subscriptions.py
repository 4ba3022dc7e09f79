"""Subscriptions (абонементы): N visits or unlimited for a period, for some services; a pass
through a covered service point uses a visit; a client may freeze it for a while."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SubscriptionPlan(models.Model):
    class Kind(models.TextChoices):
        VISITS = "visits", _("N visits")
        UNLIMITED = "unlimited", _("Unlimited for the period")

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    visits = models.PositiveIntegerField(_("visits"), null=True, blank=True,
                                         help_text=_("For a plan of N visits only."))
    days = models.PositiveIntegerField(_("valid, days"))
    service_points = models.ManyToManyField("hub.ServicePoint", blank=True, related_name="+",
                                            verbose_name=_("service points"),
                                            help_text=_("Passes here use the subscription. Empty: any."))
    products = models.ManyToManyField("hub.Product", blank=True, related_name="+", verbose_name=_("services"),
                                      help_text=_("Passes for these services use it. Empty: any."))
    max_freeze_days = models.PositiveIntegerField(_("may be frozen for, days in total"), default=0,
                                                  help_text=_("0: cannot be frozen."))
    sold_as = models.ForeignKey("hub.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("sold as product"),
                                help_text=_("A paid purchase of this product issues the subscription to the buyer."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("subscription plan")
        verbose_name_plural = _("subscription plans")

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", pgettext_lazy("subscription status", "Cancelled")

    plan = models.ForeignKey(SubscriptionPlan, on_delete=models.PROTECT, related_name="subscriptions",
                             verbose_name=_("plan"))
    contact = models.ForeignKey("hub.Contact", on_delete=models.PROTECT, related_name="subscriptions",
                                verbose_name=_("client"))
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until (inclusive)"))
    visits_left = models.PositiveIntegerField(_("visits left"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    frozen_from = models.DateField(_("frozen from"), null=True, blank=True)
    frozen_until = models.DateField(_("frozen until (inclusive)"), null=True, blank=True)
    freeze_days_used = models.PositiveIntegerField(_("days frozen so far"), default=0)
    issue_key = models.CharField(_("issued for"), max_length=160, unique=True,
                                 help_text=_("What issued it (a purchase line, an admin action): the same "
                                             "occasion never issues a second one."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.plan} #{self.pk}"


class SubscriptionVisit(models.Model):
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="visit_rows",
                                     verbose_name=_("subscription"))
    pass_row = models.OneToOneField("hub.Pass", on_delete=models.PROTECT, related_name="subscription_visit",
                                    verbose_name=_("pass"))
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("subscription visit")
        verbose_name_plural = _("subscription visits")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.subscription_id} @ {self.at:%Y-%m-%d %H:%M}"
