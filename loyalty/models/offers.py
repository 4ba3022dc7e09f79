"""Who got an offer (a rule, a promo code, a campaign) and who was held back as the control
group: the base of "did it work"."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OfferExposure(models.Model):
    class Offer(models.TextChoices):
        RULE = "rule", _("Earning rule")
        PROMO = "promo", _("Promo code")
        CAMPAIGN = "campaign", _("Campaign")

    class Group(models.TextChoices):
        OFFERED = "offered", _("Got the offer")
        CONTROL = "control", _("Control group")

    offer = models.CharField(_("offer"), max_length=8, choices=Offer.choices)
    offer_id = models.BigIntegerField(_("offer id"))
    contact = models.ForeignKey("hub.Contact", on_delete=models.CASCADE, related_name="+", verbose_name=_("client"))
    group = models.CharField(_("group"), max_length=8, choices=Group.choices)
    at = models.DateTimeField(_("first time"), db_index=True)
    used_at = models.DateTimeField(_("first used"), null=True, blank=True)

    class Meta:
        verbose_name = _("offer exposure")
        verbose_name_plural = _("offer exposures")
        constraints = [models.UniqueConstraint(fields=["offer", "offer_id", "contact"], name="uniq_offer_exposure")]
        indexes = [models.Index(fields=["offer", "offer_id", "group"])]

    def __str__(self) -> str:
        return f"{self.offer}:{self.offer_id}/{self.contact_id} {self.group}"
