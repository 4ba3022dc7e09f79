"""Bookable halls and staff, bookings that hold them without overlap, and preorders
(products prebooked for a date, kept in step with Lime)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from hub.models import Contact, Product


class Resource(models.Model):
    """A hall or a staff member (host, animator). Booked for [start, end + buffer): the
    buffer is cleaning or rest time after each booking."""

    class Kind(models.TextChoices):
        HALL = "hall", _("Hall")
        STAFF = "staff", _("Staff member")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True,
                                           help_text=_("Halls: how many guests fit. Empty: no limit."))
    opens_at = models.TimeField(_("opens at"), null=True, blank=True,
                                help_text=_("Local time. Empty with 'closes at': bookable round the clock."))
    closes_at = models.TimeField(_("closes at"), null=True, blank=True,
                                 help_text=_("Local time; earlier than 'opens at' means after midnight."))
    buffer_minutes = models.PositiveIntegerField(_("buffer after a booking, minutes"), default=0,
                                                 help_text=_("Cleaning or rest time that nobody can book."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("bookable resource")
        verbose_name_plural = _("bookable resources")
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["kind", "name"], name="uniq_resource_name")]

    def __str__(self) -> str:
        return self.name


class Booking(models.Model):
    class Status(models.TextChoices):
        TENTATIVE = "tentative", _("Tentative")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="bookings",
                                verbose_name=_("client"))
    children = models.ManyToManyField(Contact, blank=True, related_name="bookings_attended",
                                      verbose_name=_("children attending"))
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    guests = models.PositiveIntegerField(_("guests"), default=0, help_text=_("Everyone in the hall, adults too."))
    resources = models.ManyToManyField(Resource, through="Reservation", related_name="bookings",
                                       verbose_name=_("halls and staff"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.TENTATIVE,
                              help_text=_("Tentative, confirmed and done bookings hold their halls and staff; a "
                                          "cancelled one frees them."))
    comment = models.TextField(_("comment"), blank=True)
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    preorder = models.OneToOneField("Preorder", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="booking", verbose_name=_("Lime preorder"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"№{self.pk}"


class Reservation(models.Model):
    """One resource held by one booking. ``active`` rows never overlap per resource: checked
    under row locks in the service, and on PostgreSQL also by an exclusion constraint."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="reservations",
                                verbose_name=_("booking"))
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="reservations",
                                 verbose_name=_("resource"))
    starts_at = models.DateTimeField(_("starts"))
    blocked_until = models.DateTimeField(_("blocked until"), help_text=_("The booking's end plus the buffer."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [models.UniqueConstraint(fields=["booking", "resource"], name="uniq_reservation"),
                       models.CheckConstraint(condition=models.Q(blocked_until__gt=models.F("starts_at")),
                                              name="reservation_ends_after_start")]
        indexes = [models.Index(fields=["resource", "starts_at", "blocked_until"])]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d %H:%M}"


class BookingLine(models.Model):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="lines", verbose_name=_("booking"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="booking_lines",
                                verbose_name=_("product"))
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3, default=Decimal("1"))
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        verbose_name = _("booking product")
        verbose_name_plural = _("booking products")

    def __str__(self) -> str:
        return f"{self.product} × {self.quantity}"


class Preorder(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONFIRMED = "confirmed", pgettext_lazy("preorder status", "Confirmed")
        CANCELLED = "cancelled", pgettext_lazy("preorder status", "Cancelled")
        DONE = "done", pgettext_lazy("preorder status", "Done")

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
