"""Events of an organiser: a CRM "ideas" deal becomes an event template on the site, an
"events" deal a calendar date of it, and the site's ticket sales come back tied to that date.
The site's own ids live in ExternalRef (site connection, "event_template" / "event_date")."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models import Connection, Contact, Purchase


class EventSetup(models.Model):
    """How one CRM's pipelines drive one site's events. Field maps hold the CRM's deal field
    ids by role (see ``events.services.setup.TEMPLATE_ROLES`` and friends)."""

    crm = models.OneToOneField(Connection, on_delete=models.CASCADE, related_name="event_setup",
                               verbose_name=_("CRM connection"))
    site = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="event_setups",
                             verbose_name=_("site connection"))
    enabled = models.BooleanField(_("enabled"), default=True)
    template_pipeline_id = models.CharField(_("ideas pipeline"), max_length=64)
    template_stage_id = models.CharField(
        _("publish stage"), max_length=64,
        help_text=_("When an ideas deal reaches this stage, its announcement becomes an event template on the site; "
                    "later edits of the deal update it."))
    template_fields = models.JSONField(_("ideas deal fields"), default=dict, blank=True)
    events_pipeline_id = models.CharField(
        _("events pipeline"), max_length=64,
        help_text=_("Every deal in this pipeline is one date of a template: a calendar event on the site."))
    event_fields = models.JSONField(_("events deal fields"), default=dict, blank=True)
    ticket_fields = models.JSONField(_("ticket sale deal fields"), default=dict, blank=True)
    max_image_kb = models.PositiveIntegerField(_("largest image, KB"), default=5120)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("event set-up")
        verbose_name_plural = _("event set-ups")

    def __str__(self) -> str:
        return f"{self.crm} → {self.site}"


class EventStagePush(models.Model):
    """Which deal fields go to the site's calendar event once the deal has reached a stage."""

    setup = models.ForeignKey(EventSetup, on_delete=models.CASCADE, related_name="stage_pushes",
                              verbose_name=_("event set-up"))
    stage_id = models.CharField(_("stage"), max_length=64)
    roles = models.JSONField(_("fields pushed"), default=list)

    class Meta:
        verbose_name = _("stage push")
        verbose_name_plural = _("stage pushes")
        constraints = [models.UniqueConstraint(fields=["setup", "stage_id"], name="events_stage_push_unique")]

    def __str__(self) -> str:
        return f"{self.stage_id}: {', '.join(self.roles)}"


class SyncState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SYNCED = "synced", _("On the site")
    FAILED = "failed", _("Not sent (retrying)")
    REFUSED = "refused", _("Refused by the site")


class SiteSynced(models.Model):
    """What the site was last sent of an item and how that went (shown in admin and the deal)."""

    sync_state = models.CharField(_("site sync"), max_length=10, choices=SyncState.choices,
                                  default=SyncState.PENDING)
    sync_error = models.CharField(_("last sync error"), max_length=500, blank=True)
    synced_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class EventTemplate(SiteSynced):
    setup = models.ForeignKey(EventSetup, on_delete=models.CASCADE, related_name="templates",
                              verbose_name=_("event set-up"))
    crm_deal_id = models.CharField(_("ideas deal"), max_length=64)
    title = models.CharField(_("title"), max_length=255)
    description_html = models.TextField(_("description (sanitised HTML)"), blank=True)
    image_url = models.URLField(_("image source"), max_length=1000, blank=True)
    image = models.BinaryField(_("image"), null=True, blank=True, editable=False)
    image_type = models.CharField(_("image type"), max_length=40, blank=True)
    image_error = models.CharField(_("image problem"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("event template")
        verbose_name_plural = _("event templates")
        constraints = [models.UniqueConstraint(fields=["setup", "crm_deal_id"], name="events_template_deal_unique")]

    def __str__(self) -> str:
        return self.title


class EventDate(SiteSynced):
    setup = models.ForeignKey(EventSetup, on_delete=models.CASCADE, related_name="dates",
                              verbose_name=_("event set-up"))
    crm_deal_id = models.CharField(_("events deal"), max_length=64)
    template = models.ForeignKey(EventTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="dates", verbose_name=_("template"))
    idea_deal_id = models.CharField(_("ideas deal"), max_length=64, blank=True,
                                    help_text=_("As the deal names it: the date waits for that idea's template."))
    template_site_id = models.CharField(_("site template id"), max_length=64, blank=True,
                                        help_text=_("As the deal names it; used when the hub did not make "
                                                    "the template."))
    title = models.CharField(_("title"), max_length=255, blank=True)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True, db_index=True)
    speaker = models.CharField(_("speaker"), max_length=255, blank=True)
    host = models.CharField(_("host (administrator)"), max_length=255, blank=True)
    reached_stages = models.JSONField(_("stages reached"), default=list, blank=True)
    deal_problem = models.CharField(_("problem in the deal"), max_length=500, blank=True,
                                    help_text=_("What the deal lacks for the site (told to its manager as a note)."))

    class Meta:
        verbose_name = _("event date")
        verbose_name_plural = _("event dates")
        constraints = [models.UniqueConstraint(fields=["setup", "crm_deal_id"], name="events_date_deal_unique")]

    def __str__(self) -> str:
        when = f" {self.starts_at:%d.%m.%Y %H:%M}" if self.starts_at else ""
        return f"{self.title or self.crm_deal_id}{when}"


class TicketSale(models.Model):
    """One order from the site. Kept even when its event is not known yet (``event`` empty,
    ``site_event_id`` set): it is linked when that event appears."""

    class Status(models.TextChoices):
        PAID = "paid", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    site = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="ticket_sales",
                             verbose_name=_("site connection"))
    order_id = models.CharField(_("order"), max_length=64)
    site_event_id = models.CharField(_("site event id"), max_length=64, db_index=True)
    event = models.ForeignKey(EventDate, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="sales", verbose_name=_("event date"))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="ticket_sales", verbose_name=_("buyer"))
    purchase = models.OneToOneField(Purchase, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="ticket_sale", verbose_name=_("purchase"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PAID)
    tickets = models.PositiveIntegerField(_("tickets"), default=0)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    sold_at = models.DateTimeField(_("sold at"), db_index=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("ticket sale")
        verbose_name_plural = _("ticket sales")
        constraints = [models.UniqueConstraint(fields=["site", "order_id"], name="events_sale_order_unique")]

    def __str__(self) -> str:
        return f"№{self.order_id}"
