"""Receipts with their lines, and passes (write-offs at a service point)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models.catalog import Product, ServicePoint
from hub.models.contacts import Card, Contact


class Purchase(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="purchases", verbose_name=_("contact"))
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="purchases", verbose_name=_("card"))
    number = models.CharField(_("receipt number"), max_length=64, blank=True)
    purchased_at = models.DateTimeField(_("purchased at"), db_index=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PAID)
    sales_point = models.CharField(_("sales point"), max_length=200, blank=True,
                                   help_text=_("Cashdesk, site or bot that sold it."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")

    def __str__(self) -> str:
        return self.number or f"#{self.pk}"


class PurchaseLine(models.Model):
    purchase = models.ForeignKey(Purchase, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name=_("purchase"))
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="purchase_lines", verbose_name=_("product"))
    product_name = models.CharField(_("product name"), max_length=255, blank=True)
    holder = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="ticket_lines", verbose_name=_("ticket holder"))
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3, default=Decimal("1"))
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        verbose_name = _("purchase line")
        verbose_name_plural = _("purchase lines")

    def __str__(self) -> str:
        return f"{self.product_name} × {self.quantity}"


class Pass(models.Model):
    """A write-off of a ticket or deposit at a service point."""

    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="passes", verbose_name=_("contact"),
                                help_text=_("Who passed: the card holder, adult or child."))
    payer = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="paid_passes", verbose_name=_("payer"),
                              help_text=_("Who paid for it, e.g. the parent of a child."))
    card = models.ForeignKey(Card, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="passes", verbose_name=_("card"))
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="passes", verbose_name=_("product"))
    service_point = models.ForeignKey(ServicePoint, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="passes", verbose_name=_("service point"))
    passed_at = models.DateTimeField(_("time"), db_index=True)
    amount = models.DecimalField(_("amount written off"), max_digits=12, decimal_places=2,
                                 default=Decimal("0.00"))
    operator = models.CharField(_("who"), max_length=200, blank=True,
                                help_text=_("Cashier, controller or device that made the write-off."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("pass")
        verbose_name_plural = _("passes")

    def __str__(self) -> str:
        return f"{self.passed_at:%Y-%m-%d %H:%M} {self.service_point or ''}"
