"""What rules, promo codes, limits, certificates and subscriptions apply to: products,
categories (with their subcategories), service points."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Targeted(models.Model):
    """Empty product and category lists: every line."""

    products = models.ManyToManyField("hub.Product", blank=True, related_name="+", verbose_name=_("products"))
    categories = models.ManyToManyField("hub.ProductCategory", blank=True, related_name="+",
                                        verbose_name=_("categories"),
                                        help_text=_("A category includes its subcategories."))

    class Meta:
        abstract = True


class Holdout(models.Model):
    holdout_percent = models.PositiveSmallIntegerField(
        _("control group, %"), default=0,
        help_text=_("This share of clients (picked at random, always the same ones) does not get the offer, "
                    "so its effect can be measured against them."))

    class Meta:
        abstract = True
