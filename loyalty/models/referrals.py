"""Referral program: each client's personal code; a friend who comes with it is recorded
once, checked against abuse, and rewarded (friend, referrer or both) on registration or on
the first purchase."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReferralProgram(models.Model):
    class Trigger(models.TextChoices):
        REGISTRATION = "registration", _("When the friend registers")
        FIRST_PURCHASE = "first_purchase", _("When the friend makes a first purchase")

    program = models.OneToOneField("loyalty.Program", on_delete=models.CASCADE, related_name="referral",
                                   verbose_name=_("program"))
    active = models.BooleanField(_("active"), default=True)
    trigger = models.CharField(_("reward"), max_length=16, choices=Trigger.choices, default=Trigger.FIRST_PURCHASE)
    referrer_points = models.DecimalField(_("points to the referrer"), max_digits=14, decimal_places=2,
                                          default=Decimal("0"), help_text=_("0: the referrer gets nothing."))
    friend_points = models.DecimalField(_("points to the friend"), max_digits=14, decimal_places=2,
                                        default=Decimal("0"), help_text=_("0: the friend gets nothing."))
    min_purchase = models.DecimalField(
        _("first purchase from"), max_digits=12, decimal_places=2, default=Decimal("0"),
        help_text=_("For the reward on the first purchase: the smallest amount that counts, in roubles. 0: any."))
    link_template = models.CharField(
        _("link"), max_length=255, blank=True,
        help_text=_("The client's personal link, {code} replaced by their code, e.g. "
                    "https://t.me/our_bot?start=ref_{code}. Empty: the code only."))

    class Meta:
        verbose_name = _("referral program")
        verbose_name_plural = _("referral programs")

    def __str__(self) -> str:
        return str(self.program)


class ReferralCode(models.Model):
    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="referral_codes",
                                verbose_name=_("program"))
    contact = models.ForeignKey("hub.Contact", on_delete=models.CASCADE, related_name="referral_codes",
                                verbose_name=_("client"))
    code = models.CharField(_("code"), max_length=16, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")
        constraints = [models.UniqueConstraint(fields=["program", "contact"], name="uniq_referral_code")]

    def __str__(self) -> str:
        return self.code


class Referral(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the first purchase")
        REWARDED = "rewarded", _("Rewarded")
        REFUSED = "refused", _("Refused")

    program = models.ForeignKey("loyalty.Program", on_delete=models.CASCADE, related_name="referrals",
                                verbose_name=_("program"))
    referrer = models.ForeignKey("hub.Contact", on_delete=models.PROTECT, related_name="referred",
                                 verbose_name=_("referrer"))
    friend = models.ForeignKey("hub.Contact", on_delete=models.PROTECT, related_name="referred_by",
                               verbose_name=_("friend"))
    code = models.CharField(_("code"), max_length=16)
    device = models.CharField(_("device"), max_length=128, blank=True,
                              help_text=_("Chat id, cabinet device or other fingerprint it came from."))
    card = models.CharField(_("card"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(_("why refused"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    rewarded_at = models.DateTimeField(_("rewarded"), null=True, blank=True)

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["program", "friend"], name="uniq_referral_friend")]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.friend_id}"
