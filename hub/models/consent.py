"""152-FZ consent: versioned consent texts and the records of who agreed to what, how."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from hub.models.contacts import Contact


class Purpose(models.TextChoices):
    PERSONAL_DATA = "personal_data", _("Personal data processing")
    MARKETING = "marketing", _("Marketing messages")


class ConsentText(models.Model):
    """A published version of a consent document; records point at the exact text agreed to."""

    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    version = models.CharField(_("version"), max_length=32,
                               help_text=_("A changed text needs a new version: each consent keeps the exact "
                                           "version and text the client agreed to."))
    text = models.TextField(_("text"))
    text_hash = models.CharField(_("SHA-256 of the text"), max_length=64, editable=False)
    operator_name = models.CharField(_("operator"), max_length=255,
                                     help_text=_("Legal entity processing the data."))
    processors = models.JSONField(_("processors"), default=list, blank=True,
                                  help_text=_("Third parties processing on our behalf (SMS gateway…)."))
    data_categories = models.JSONField(_("data categories"), default=list, blank=True,
                                       help_text=_('A list, e.g. ["name", "phone", "birth date"].'))
    published_at = models.DateTimeField(_("published"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        constraints = [models.UniqueConstraint(fields=["purpose", "version"], name="uniq_consent_version")]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} v{self.version}"


class ConsentRecord(models.Model):
    class Channel(models.TextChoices):
        TELEGRAM = "telegram", "Telegram"
        VK = "vk", "VK"
        WEB = "web", _("Web form")
        SMS = "sms", "SMS"
        WHATSAPP = "whatsapp", "WhatsApp"
        CASHDESK = "cashdesk", _("Cashdesk")
        ADMIN = "admin", _("Admin")

    class Method(models.TextChoices):
        BUTTON = "button", _("Button")
        CHECKBOX = "checkbox", _("Checkbox")
        SIGNATURE = "signature", _("Signature on paper")
        CODE = "code", _("Confirmation code")

    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="consents", verbose_name=_("contact"))
    subject_kind = models.CharField(_("subject id kind"), max_length=16,
                                    help_text=_("phone, email, telegram, vk"))
    subject_id = models.CharField(_("subject id"), max_length=254,
                                  help_text=_("The phone (E.164), e-mail or messenger user id the consent "
                                              "came from."))
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices)
    consent_text = models.ForeignKey(ConsentText, on_delete=models.PROTECT, related_name="records",
                                     verbose_name=_("consent text"))
    text_version = models.CharField(_("text version"), max_length=32)
    text_hash = models.CharField(_("text hash"), max_length=64)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    source = models.JSONField(_("source"), default=dict, blank=True,
                              help_text=_("Update id, form id + tranid, IP and user agent…"))
    method = models.CharField(_("expressed by"), max_length=16, choices=Method.choices)
    purposes = models.JSONField(_("purposes of processing"), default=list, blank=True)
    data_categories = models.JSONField(_("data categories"), default=list, blank=True)
    operator_name = models.CharField(_("operator"), max_length=255)
    processors = models.JSONField(_("processors"), default=list, blank=True)
    granted_at = models.DateTimeField(_("granted at (UTC)"), db_index=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawal_channel = models.CharField(_("withdrawal channel"), max_length=16, blank=True,
                                          choices=Channel.choices)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [models.Index(fields=["subject_kind", "subject_id", "purpose"])]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} {self.granted_at:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None
