"""A client's lifecycle stage (new, active, lapsing, lost, returned), computed daily from
their purchases and passes under the operator's thresholds; every change is kept."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Stage(models.TextChoices):
    NEW = "new", _("New")
    ACTIVE = "active", pgettext_lazy("lifecycle stage", "Active")
    LAPSING = "lapsing", _("Lapsing")
    LOST = "lost", _("Lost")
    RETURNED = "returned", _("Returned")


class LifecyclePolicy(models.Model):
    """One row: the thresholds, in days since the last purchase or pass."""

    new_days = models.PositiveIntegerField(_("new for, days"), default=30,
                                           help_text=_("Since the first purchase or pass (or since joining)."))
    lapsing_after_days = models.PositiveIntegerField(
        _("lapsing after, days"), default=60,
        help_text=_("Days without a purchase or pass after which a client becomes lapsing."))
    lost_after_days = models.PositiveIntegerField(
        _("lost after, days"), default=180,
        help_text=_("Days without a purchase or pass after which a client counts as lost."))
    returned_days = models.PositiveIntegerField(_("returned for, days"), default=30,
                                                help_text=_("A lost client who came back is \"returned\" this long."))

    class Meta:
        verbose_name = _("lifecycle thresholds")
        verbose_name_plural = _("lifecycle thresholds")

    def __str__(self) -> str:
        return str(_("lifecycle thresholds"))


class ClientLifecycle(models.Model):
    contact = models.OneToOneField("hub.Contact", on_delete=models.CASCADE, related_name="lifecycle",
                                   verbose_name=_("contact"))
    stage = models.CharField(_("lifecycle stage"), max_length=8, choices=Stage.choices, db_index=True)
    since = models.DateField(_("since"))
    last_activity_at = models.DateTimeField(_("last purchase or pass"), null=True, blank=True)
    computed_on = models.DateField(_("computed on"))

    class Meta:
        verbose_name = _("lifecycle stage")
        verbose_name_plural = _("lifecycle stages")

    def __str__(self) -> str:
        return self.get_stage_display()


class LifecycleChange(models.Model):
    contact = models.ForeignKey("hub.Contact", on_delete=models.CASCADE, related_name="lifecycle_changes",
                                verbose_name=_("contact"))
    from_stage = models.CharField(_("from"), max_length=8, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to"), max_length=8, choices=Stage.choices)
    changed_on = models.DateField(_("on"), db_index=True)

    class Meta:
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle changes")
        ordering = ["-changed_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.from_stage or '—'} → {self.to_stage}"
