"""Products (tickets, deposit top-ups, services, goods) and service points."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductCategory(models.Model):
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="subcategories", verbose_name=_("parent category"))

    class Meta:
        verbose_name = _("product category")
        verbose_name_plural = _("product categories")
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="uniq_category_name")]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    class Kind(models.TextChoices):
        TICKET = "ticket", _("Ticket")
        DEPOSIT = "deposit", _("Deposit top-up")
        SERVICE = "service", _("Service")
        GOODS = "goods", _("Goods")

    name = models.CharField(_("name"), max_length=255)
    sku = models.CharField(_("SKU"), max_length=64, blank=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TICKET,
                            db_index=True)
    category = models.ForeignKey(ProductCategory, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="products", verbose_name=_("category"))
    base_price = models.DecimalField(_("base price"), max_digits=12, decimal_places=2,
                                     default=Decimal("0.00"))
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return self.name


class ServicePoint(models.Model):
    """Where a pass is made: a turnstile, validator, attraction, paid zone, mobile operator."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=32, blank=True,
                            help_text=_("Turnstile, validator, attraction, paid zone…"))

    class Meta:
        verbose_name = _("service point")
        verbose_name_plural = _("service points")

    def __str__(self) -> str:
        return self.name
