"""Gift certificates: a money balance, possibly only for some services, spent in receipts
and at passes; every movement is an operation with an idempotency key."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from loyalty.models.targeting import Targeted


class CertificateType(Targeted):
    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="certificate_types",
                                verbose_name=_("program"))
    name = models.CharField(_("name"), max_length=120)
    amount = models.DecimalField(_("fixed amount"), max_digits=12, decimal_places=2, null=True, blank=True,
                                 help_text=_("Empty: an open amount, chosen by the buyer within the bounds below."))
    min_amount = models.DecimalField(_("open amount from"), max_digits=12, decimal_places=2, null=True, blank=True)
    max_amount = models.DecimalField(_("open amount up to"), max_digits=12, decimal_places=2, null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid, days"), default=365,
                                             help_text=_("Counted from the day of issue."))
    sold_as = models.ForeignKey("hub.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("sold as product"),
                                help_text=_("A paid purchase of this product issues a certificate to the buyer "
                                            "(an open amount: the line's amount)."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("certificate type")
        verbose_name_plural = _("certificate types")

    def __str__(self) -> str:
        return self.name


class Certificate(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BLOCKED = "blocked", pgettext_lazy("certificate status", "Blocked")

    type = models.ForeignKey(CertificateType, on_delete=models.PROTECT, related_name="certificates",
                             verbose_name=_("type"))
    code = models.CharField(_("code"), max_length=32, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    balance = models.DecimalField(_("balance"), max_digits=12, decimal_places=2)
    contact = models.ForeignKey("hub.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="certificates", verbose_name=_("buyer"))
    issued_at = models.DateTimeField(_("issued"))
    valid_until = models.DateTimeField(_("valid until"))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    issue_key = models.CharField(_("issued for"), max_length=160, unique=True,
                                 help_text=_("What issued it (a purchase line, an admin action): the same "
                                             "occasion never issues a second one."))

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_at"]
        constraints = [models.CheckConstraint(condition=models.Q(balance__gte=0), name="certificate_not_negative")]

    def __str__(self) -> str:
        return self.code


class CertificateOperation(models.Model):
    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="operations",
                                    verbose_name=_("certificate"))
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2,
                                 help_text=_("Negative: spent; positive: issued or given back."))
    reason = models.CharField(_("reason"), max_length=255)
    receipt = models.ForeignKey("loyalty.Receipt", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="certificate_operations", verbose_name=_("receipt"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=160, unique=True)
    at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("certificate operation")
        verbose_name_plural = _("certificate operations")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.certificate} {self.amount:+}"

