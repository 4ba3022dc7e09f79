"""Receipts the engine has confirmed (through "confirm" or from a recorded purchase): the
history limits, levels, first-purchase rules and offer results read."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2, "default": Decimal("0")}


class Receipt(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    program = models.ForeignKey("loyalty.Program", on_delete=models.PROTECT, related_name="receipts",
                                verbose_name=_("program"))
    contact = models.ForeignKey("hub.Contact", on_delete=models.PROTECT, related_name="receipts",
                                verbose_name=_("contact"))
    ref = models.CharField(_("order"), max_length=128)
    purchase = models.OneToOneField("hub.Purchase", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="receipt", verbose_name=_("purchase"))
    at = models.DateTimeField(_("time"), db_index=True)
    service_point = models.ForeignKey("hub.ServicePoint", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", verbose_name=_("service point"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PAID)
    total = models.DecimalField(_("total"), **MONEY)
    discount = models.DecimalField(_("discount"), **MONEY)
    certificates = models.DecimalField(_("paid by certificates"), **MONEY)
    points_redeemed = models.DecimalField(_("paid by points"), **MONEY)
    paid = models.DecimalField(_("paid in money"), **MONEY)
    points_earned = models.DecimalField(_("points earned"), **MONEY)
    cashback = models.DecimalField(_("cashback to the deposit"), **MONEY)
    tier = models.ForeignKey("loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("level"))
    trace = models.JSONField(_("how it was computed"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["program", "ref"], name="uniq_receipt_ref")]
        indexes = [models.Index(fields=["contact", "at"])]

    def __str__(self) -> str:
        return self.ref


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines", verbose_name=_("receipt"))
    product = models.ForeignKey("hub.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("product"))
    category = models.ForeignKey("hub.ProductCategory", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("category"))
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3, default=Decimal("1"))
    amount = models.DecimalField(_("amount"), **MONEY)
    discount = models.DecimalField(_("discount"), **MONEY)
    points = models.DecimalField(_("points earned"), max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        verbose_name = _("receipt line")
        verbose_name_plural = _("receipt lines")

    def __str__(self) -> str:
        return f"{self.product or '—'} × {self.quantity}"


class RuleHit(models.Model):
    """A rule that added to a receipt: who got the offer, for its results."""

    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="rule_hits", verbose_name=_("receipt"))
    rule = models.ForeignKey("loyalty.EarningRule", on_delete=models.CASCADE, related_name="hits",
                             verbose_name=_("rule"))
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2, default=Decimal("0"))
    cashback = models.DecimalField(_("cashback"), **MONEY)

    class Meta:
        verbose_name = _("rule applied")
        verbose_name_plural = _("rules applied")
        constraints = [models.UniqueConstraint(fields=["receipt", "rule"], name="uniq_rule_hit")]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.points}"
