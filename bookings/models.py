"""Preorders (prebookings of products for a date); halls, staff and bookings come with the
bookings issue."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models import Contact, Product


class Preorder(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="preorders",
                                verbose_name=_("contact"))
    scheduled_for = models.DateTimeField(_("for"), null=True, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    comment = models.TextField(_("comment"), blank=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("preorder")
        verbose_name_plural = _("preorders")

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact}"


class PreorderLine(models.Model):
    preorder = models.ForeignKey(Preorder, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name=_("preorder"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="preorder_lines",
                                verbose_name=_("product"))
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3, default=Decimal("1"))
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        verbose_name = _("preorder line")
        verbose_name_plural = _("preorder lines")

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"
