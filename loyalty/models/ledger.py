"""The hub's bonus ledger: immutable entries per contact and program; the balance is their
sum (cached on the account, verifiable); spending takes the earliest-expiring points first,
recorded as allocations so expiry and refunds know exactly which points are left."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from hub.models import Contact


class Program(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True,
                            help_text=_("Latin letters, digits, - and _; the API and reports name the program by "
                                        "it."))
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
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow",
                                 help_text=_("An IANA name, e.g. Europe/Moscow: days, hours, weeks and months of rules "
                                             "and limits are counted in it."))
    # levels (tiers)
    tier_metric = models.CharField(
        _("levels are earned by"), max_length=8, choices=[("points", _("Points earned")), ("spend", _("Money spent"))],
        default="points",
        help_text=_("What the client's level is computed from, in the rolling window below (not the balance)."))
    tier_window_days = models.PositiveIntegerField(
        _("level window, days"), default=365,
        help_text=_("The level counts what was earned or spent in this many most recent days."))
    tier_category = models.ForeignKey(
        "hub.ProductCategory", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("levels count only this category"),
        help_text=_("Money spent on this category (and its subcategories) only. Empty: everything."))
    tier_product_kind = models.CharField(
        _("levels count only this product type"), max_length=10, blank=True,
        choices=[("ticket", _("Ticket")), ("deposit", _("Deposit top-up")), ("service", _("Service")),
                 ("goods", _("Goods"))], help_text=_("Empty: every type."))
    tier_grace_days = models.PositiveIntegerField(
        _("grace before a downgrade, days"), default=30,
        help_text=_("A client below their level keeps it this long; checked daily. A promotion is at once."))
    connection = models.OneToOneField(
        "hub.Connection", null=True, blank=True, on_delete=models.PROTECT, related_name="bonus_program",
        verbose_name=_("external program"),
        help_text=_("A connection to SamoSale, UDS or MAXMA: that program keeps the points (the ledger of "
                    "record), the hub mirrors its balance and history and sends grants to it. Empty: the hub "
                    "keeps the points itself."))

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
    pending = models.DecimalField(_("pending"), max_digits=14, decimal_places=2, default=Decimal("0"),
                                  help_text=_("External program: earned points not spendable yet."))
    expiring = models.JSONField(_("expiring"), default=list, blank=True,
                                help_text=_("External program: the next burn dates and amounts."))
    synced_at = models.DateTimeField(_("checked with the program"), null=True, blank=True)
    tier = models.ForeignKey("loyalty.Tier", null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts",
                             verbose_name=_("level"))
    tier_since = models.DateTimeField(_("on this level since"), null=True, blank=True)
    tier_below_since = models.DateTimeField(
        _("below the level since"), null=True, blank=True,
        help_text=_("First daily check that found the client below their level; the grace period runs from it."))
    tier_value = models.DecimalField(_("level metric"), max_digits=14, decimal_places=2, default=Decimal("0"),
                                     help_text=_("Points earned or money spent in the window, last computed."))
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
        CAMPAIGN = "campaign", _("Mailing or mass accrual")
        BIRTHDAY = "birthday", _("Birthday")
        MANUAL = "manual", _("Manual")
        CRM = "crm", _("CRM")
        SYSTEM = "system", _("System")
        PROGRAM = "program", _("Bonus program")
        REFERRAL = "referral", _("Referral")
        PROMO = "promo", _("Promo code")

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
    # Entries are never edited; the history records who created each one, through which page.
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("bonus entry")
        verbose_name_plural = _("bonus entries")
        ordering = ["-created_at", "-pk"]
        permissions = [("mass_accrue", _("Can grant points to many clients at once"))]

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
    max_points = models.DecimalField(
        _("max points per grant"), max_digits=14, decimal_places=2,
        help_text=_("The most points one manual grant or deduction by this role may move. A user with several "
                    "roles gets the highest limit; superusers have none."))
    history = HistoricalRecords()

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
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2,
                                 help_text=_("Granted once a year per person, on the birthday or the set number "
                                             "of days before it."))
    days_before = models.PositiveIntegerField(_("days before the birthday"), default=0,
                                              help_text=_("0: on the birthday itself."))
    children = models.BooleanField(_("children too"), default=True,
                                   help_text=_("Child clients get the points on their own birthday too."))
    expiry_days = models.PositiveIntegerField(_("points live, days"), null=True, blank=True, default=30,
                                              help_text=_("Empty: earned points never expire."))
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


class ProgramOrder(models.Model):
    """An order confirmed in an external program: its id there, for refunds."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="orders", verbose_name=_("program"))
    order_ref = models.CharField(_("order"), max_length=128)
    external_id = models.CharField(_("id in the program"), max_length=128)
    redeemed = models.DecimalField(_("points redeemed"), max_digits=14, decimal_places=2, default=Decimal("0"))
    earned = models.DecimalField(_("points earned"), max_digits=14, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(_("order total"), max_digits=14, decimal_places=2, default=Decimal("0"))
    paid = models.DecimalField(_("paid in money"), max_digits=14, decimal_places=2, default=Decimal("0"))
    refunded = models.DecimalField(_("refunded of the total"), max_digits=14, decimal_places=2,
                                   default=Decimal("0"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("order in a program")
        verbose_name_plural = _("orders in programs")
        constraints = [models.UniqueConstraint(fields=["program", "order_ref"], name="uniq_program_order")]

    def __str__(self) -> str:
        return f"{self.order_ref} → {self.external_id}"


class Reconciliation(models.Model):
    """One comparison of the hub's mirror with an external program: what differed and how
    the mirror was corrected."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="reconciliations",
                                verbose_name=_("program"))
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    accounts = models.PositiveIntegerField(_("accounts checked"), default=0)
    operations = models.PositiveIntegerField(_("operations mirrored"), default=0)
    differences = models.PositiveIntegerField(_("balances corrected"), default=0)
    failures = models.PositiveIntegerField(_("accounts not checked"), default=0)
    details = models.JSONField(_("details"), default=list, blank=True)

    class Meta:
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.program} {self.started_at:%Y-%m-%d %H:%M}"


class ProgramRequest(models.Model):
    """A change the hub asks an external program to make (a grant, a receipt to earn on, a
    refund). Sent through the outbox, so it survives outages; the ledger mirror shows it once
    the program has accepted it, and a refusal stays here with the program's reason."""

    class Kind(models.TextChoices):
        ADJUST = "adjust", _("Grant or deduction")
        PURCHASE = "purchase", _("Purchase")
        REFUND = "refund", _("Refund")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the program")
        DONE = "done", _("Accepted")
        REFUSED = "refused", _("Refused by the program")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="requests",
                                verbose_name=_("program"))
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="program_requests",
                                verbose_name=_("contact"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.DecimalField(_("points"), max_digits=14, decimal_places=2, default=Decimal("0"))
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Entry.Source.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("who"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=160, unique=True)
    order_ref = models.CharField(_("order"), max_length=128, blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    run = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    error = models.TextField(_("program's answer"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    done_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("request to a program")
        verbose_name_plural = _("requests to programs")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points} ({self.get_status_display()})"
