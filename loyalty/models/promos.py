"""Promo codes and personal coupons, and every use of one (the caps count these)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from loyalty.models.targeting import Holdout, Targeted


class PromoCode(Targeted, Holdout):
    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="promo_codes",
                                verbose_name=_("program"))
    code = models.CharField(_("code"), max_length=32, unique=True,
                            help_text=_("What the client types; letters are compared without case."))
    name = models.CharField(_("name"), max_length=120)
    active = models.BooleanField(_("active"), default=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="coupons",
                               verbose_name=_("issued from"), editable=False,
                               help_text=_("Personal coupons issued from this promo code to a segment."))
    contact = models.ForeignKey("hub.Contact", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="coupons", verbose_name=_("personal for"),
                                help_text=_("A coupon: only this client may use it. Empty: anyone."))
    max_uses = models.PositiveIntegerField(_("uses in total, at most"), null=True, blank=True,
                                           help_text=_("1: single-use. Empty: no cap."))
    max_uses_per_client = models.PositiveIntegerField(_("uses per client, at most"), null=True, blank=True,
                                                      help_text=_("1: once per client. Empty: no cap."))
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    min_total = models.DecimalField(_("minimum receipt"), max_digits=12, decimal_places=2, null=True, blank=True)
    discount_percent = models.DecimalField(_("discount, %"), max_digits=5, decimal_places=2, null=True, blank=True)
    discount_amount = models.DecimalField(_("discount, roubles"), max_digits=12, decimal_places=2, null=True,
                                          blank=True, help_text=_("Spread over the lines it applies to."))
    bonus_points = models.DecimalField(_("bonus points"), max_digits=14, decimal_places=2, null=True, blank=True)
    combinable = models.BooleanField(
        _("combinable"), default=True,
        help_text=_("Can be used with other promo codes and with paying by points. Off: alone only."))
    uses = models.PositiveIntegerField(_("used"), default=0, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.code

    def save(self, *args: object, **kwargs: object) -> None:
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PromoUse(models.Model):
    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="use_rows",
                              verbose_name=_("promo code"))
    receipt = models.ForeignKey("loyalty.Receipt", on_delete=models.CASCADE, related_name="promo_uses",
                                verbose_name=_("receipt"))
    contact = models.ForeignKey("hub.Contact", on_delete=models.PROTECT, related_name="+", verbose_name=_("contact"))
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2, default=0)
    cancelled = models.BooleanField(_("cancelled by a refund"), default=False)
    used_at = models.DateTimeField(_("used"), auto_now_add=True)

    class Meta:
        verbose_name = _("promo code use")
        verbose_name_plural = _("promo code uses")
        constraints = [models.UniqueConstraint(fields=["promo", "receipt"], name="uniq_promo_use")]

    def __str__(self) -> str:
        return f"{self.promo} / {self.receipt_id}"
