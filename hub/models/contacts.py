"""Contacts (adults and children), their identities, family links and cards."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class Tag(models.Model):
    """A label operators put on contacts (e.g. "VIP", "school group") to pick them out for
    grants and mailings."""

    name = models.CharField(_("name"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    class Category(models.TextChoices):
        ADULT = "adult", _("Adult")
        CHILD = "child", _("Child")

    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    middle_name = models.CharField(_("middle name"), max_length=150, blank=True)
    # Primary phone/e-mail, denormalised from ContactIdentity for display and filters.
    phone = models.CharField(_("phone"), max_length=20, blank=True, db_index=True,
                             help_text=_("Primary phone in E.164, e.g. +79123456789."))
    email = models.EmailField(_("e-mail"), blank=True, db_index=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices,
                                default=Category.ADULT, db_index=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True, db_index=True)
    last_pass_at = models.DateTimeField(_("last pass"), null=True, blank=True, db_index=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts", verbose_name=_("tags"))
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="merged_from",
        help_text=_("Set when this contact was a duplicate; its history moved to that contact."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Who changed what and when; visit and purchase times are activity, not edits.
    history = HistoricalRecords(excluded_fields=["last_purchase_at", "last_pass_at", "updated_at"])

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["birth_date"]), models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return self.full_name or f"#{self.pk}"

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


class ContactIdentity(models.Model):
    """A dedup key of a contact: phone, e-mail or messenger id, normalised, globally unique."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        TELEGRAM = "telegram", _("Telegram user id")
        VK = "vk", _("VK user id")
        WHATSAPP = "whatsapp", _("WhatsApp chat id")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities",
                                verbose_name=_("contact"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254,
                             help_text=_("Normalised: a phone in E.164 (+79123456789), an e-mail in lower case, "
                                         "a messenger user or chat id as the messenger gives it."))
    verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact identity")
        verbose_name_plural = _("contact identities")
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="uniq_identity_kind_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class ContactRelation(models.Model):
    """A family link: a child contact attached to a parent contact."""

    class Relation(models.TextChoices):
        SON = "son", _("Son")
        DAUGHTER = "daughter", _("Daughter")
        GRANDCHILD = "grandchild", _("Grandchild")
        WARD = "ward", _("Ward")
        OTHER = "other", _("Other")

    parent = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="children_links",
                               verbose_name=_("parent"))
    child = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="parent_links",
                              verbose_name=_("child"))
    relation = models.CharField(_("relation"), max_length=16, choices=Relation.choices,
                                default=Relation.OTHER)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("family link")
        verbose_name_plural = _("family links")
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="uniq_family_link"),
            models.CheckConstraint(condition=~models.Q(parent=models.F("child")), name="family_link_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.parent} → {self.child} ({self.get_relation_display()})"


class Card(models.Model):
    """A client card (Lime card, club card): passes and purchases are made with it."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        BLOCKED = "blocked", _("Blocked")

    code = models.CharField(_("code"), max_length=64, unique=True,
                            help_text=_("The number on the card, as the till reads it."))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="cards", verbose_name=_("holder"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("card")
        verbose_name_plural = _("cards")

    def __str__(self) -> str:
        return self.code
