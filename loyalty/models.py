"""The hub's bonus ledger: immutable entries per contact and program; the balance is their
sum (cached on the account, verifiable); spending takes the earliest-expiring points first,
recorded as allocations so expiry and refunds know exactly which points are left."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models import Contact


class Program(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=120)
    expiry_days = models.PositiveIntegerField(_("points live, days"), null=True, blank=True,
                                              help_text=_("Empty: earned points never expire."))
    lock_days = models.PositiveIntegerField(_("points locked for returns, days"), default=0,
                                            help_text=_("Earned points can be spent only after this many days."))
    earn_percent = models.DecimalField(_("points per purchase, percent of the amount"), max_digits=5, decimal_places=2,
                                       default=Decimal("0"),
                                       help_text=_("For products without a category rate. 0: purchases earn nothing."))
    max_redeem_share = models.DecimalField(_("max share of an order payable by points, %"), max_digits=5,
                                           decimal_places=2, default=Decimal("50"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("bonus program")
        verbose_name_plural = _("bonus programs")

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="bonus_accounts",
                                verbose_name=_("contact"))
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="accounts",
                                verbose_name=_("program"))
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=2, default=Decimal("0"),
                                  help_text=_("Cached sum of the entries; the ledger check verifies it."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("bonus account")
        verbose_name_plural = _("bonus accounts")
        constraints = [models.UniqueConstraint(fields=["contact", "program"], name="uniq_bonus_account"),
                       models.CheckConstraint(condition=models.Q(balance__gte=0), name="bonus_balance_not_negative")]

    def __str__(self) -> str:
        return f"{self.contact_id}/{self.program_id}: {self.balance}"


class Entry(models.Model):
    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjusted")
        REFUND = "refund", _("Refund")

    class Source(models.TextChoices):
        PURCHASE = "purchase", _("Purchase")
        BOOKING = "booking", _("Booking")
        CAMPAIGN = "campaign", _("Campaign")
        BIRTHDAY = "birthday", _("Birthday")
        MANUAL = "manual", _("Manual")
        CRM = "crm", _("CRM")
        SYSTEM = "system", _("System")

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries",
                                verbose_name=_("account"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2,
                                 help_text=_("Positive adds, negative takes away."))
    reason = models.CharField(_("reason"), max_length=255)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    source_ref = models.CharField(_("source reference"), max_length=128, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("who"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=160, unique=True)
    available_at = models.DateTimeField(_("spendable from"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
                                 verbose_name=_("reverses"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("bonus entry")
        verbose_name_plural = _("bonus entries")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValidationError("Bonus entries are immutable: write a correcting entry instead.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Allocation(models.Model):
    """``points`` of the credit entry taken by the debit entry (a redemption, expiry, or
    negative adjustment): what makes FIFO by expiry exact."""

    debit = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="takes", verbose_name=_("debit"))
    credit = models.ForeignKey(Entry, on_delete=models.PROTECT, related_name="taken", verbose_name=_("credit"))
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [models.CheckConstraint(condition=models.Q(points__gt=0), name="allocation_positive")]

    def __str__(self) -> str:
        return f"{self.debit_id} ← {self.credit_id}: {self.points}"


class GrantLimit(models.Model):
    """How many points one manual grant or deduction may move, per role (user group). A user
    gets the highest limit of their groups; superusers have none."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="bonus_limit",
                                 verbose_name=_("role"))
    max_points = models.DecimalField(_("max points per grant"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("grant limit")
        verbose_name_plural = _("grant limits")

    def __str__(self) -> str:
        return f"{self.group}: {self.max_points}"


class BirthdayBonus(models.Model):
    """Points on (or before) a client's birthday, and their children's; granted by a daily
    job, once per person per year."""

    program = models.OneToOneField(Program, on_delete=models.CASCADE, related_name="birthday_bonus",
                                   verbose_name=_("program"))
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2)
    days_before = models.PositiveIntegerField(_("days before the birthday"), default=0)
    children = models.BooleanField(_("children too"), default=True)
    expiry_days = models.PositiveIntegerField(_("points live, days"), null=True, blank=True, default=30)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("birthday bonus")
        verbose_name_plural = _("birthday bonuses")

    def __str__(self) -> str:
        return f"{self.program}: {self.points}"


class CategoryRate(models.Model):
    """Points for a product category (and its subcategories), % of the line amount."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="category_rates",
                                verbose_name=_("program"))
    category = models.ForeignKey("hub.ProductCategory", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("product category"))
    percent = models.DecimalField(_("points, percent of the amount"), max_digits=5, decimal_places=2)

    class Meta:
        verbose_name = _("category rate")
        verbose_name_plural = _("category rates")
        constraints = [models.UniqueConstraint(fields=["program", "category"], name="uniq_category_rate")]

    def __str__(self) -> str:
        return f"{self.category}: {self.percent}%"
