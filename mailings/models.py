"""Campaigns an operator sets up once (birthday, lapsed clients, NPS, segment, triggers),
their templates, runs, every message sent, and NPS surveys with their answers."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from hub.models import Connection, Contact, Segment


class Channel(models.TextChoices):
    TELEGRAM = "telegram", "Telegram"
    VK = "vk", "VK"
    WHATSAPP = "whatsapp", "WhatsApp"
    SMS = "sms", "SMS"
    EMAIL = "email", _("E-mail")


class Template(models.Model):
    """Message text with variables; every edit of the text is a new version, and each message
    remembers the version it was rendered from."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    subject = models.CharField(_("e-mail subject"), max_length=200, blank=True,
                               help_text=_("E-mail only; other channels do not use it."))
    body = models.TextField(
        _("text"),
        help_text=_("Variables: {{ first_name }}, {{ name }}, {{ child_name }}, {{ child_age }}, "
                    "{{ bonus_balance }}, {{ bonus_points }}, {{ booking_date }}, {{ days_since_visit }}, "
                    "{{ deal_title }}, {{ nps_link }}, {{ optout_link }}. Russian plural forms: "
                    "{{ bonus_balance|plural:\"балл,балла,баллов\" }} → «21 балл», «3 балла», «5 баллов»."))
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.pk:
            before = Template.objects.filter(pk=self.pk).values("body", "subject").first()
            if before and (before["body"], before["subject"]) != (self.body, self.subject):
                self.version += 1
        super().save(*args, **kwargs)


class Campaign(models.Model):
    class Kind(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday")
        LAPSED = "lapsed", _("Lapsed clients")
        NPS = "nps", pgettext_lazy("campaign kind", "NPS survey")
        SEGMENT = "segment", _("Segment mailing")
        TRIGGER = "trigger", _("Event notification")

    class Audience(models.TextChoices):
        CLIENTS = "clients", _("Clients' own birthdays")
        CHILDREN = "children", _("Children's birthdays (message to the parent)")
        BOTH = "both", _("Both")

    class Inactivity(models.TextChoices):
        PASS = "pass", _("No pass")
        PURCHASE = "purchase", _("No purchase")
        BOTH = "both", _("Neither a pass nor a purchase")

    class Trigger(models.TextChoices):
        DEAL_STAGE = "deal_stage", _("CRM deal reached a stage")
        BONUS_ACCRUED = "bonus_accrued", _("Bonus points accrued")
        BOOKING_CONFIRMED = "booking_confirmed", _("Booking confirmed")

    name = models.CharField(_("name"), max_length=120, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    active = models.BooleanField(_("active"), default=True)
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="campaigns",
                                 verbose_name=_("template"))
    channels = models.JSONField(
        _("channels, in order"), default=list,
        help_text=_("Tried in this order: a client without the first channel (or whose message there "
                    "failed for good) gets the next, e.g. telegram, whatsapp, sms."))
    marketing = models.BooleanField(
        _("marketing"), default=True,
        help_text=_("Marketing messages go only to clients with marketing consent for the channel. "
                    "Turn off for service notifications (booking confirmed)."))
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow",
                                 help_text=_("An IANA name, e.g. Europe/Moscow: birthdays, the send time and quiet "
                                             "hours are counted in it."))
    send_time = models.TimeField(_("send at"), default=dt.time(10, 0),
                                 help_text=_("Daily campaigns select their clients at this local time."))
    quiet_from = models.TimeField(_("quiet hours from"), default=dt.time(21, 0))
    quiet_to = models.TimeField(_("quiet hours until"), default=dt.time(9, 0),
                                help_text=_("Messages due in quiet hours wait until they end."))
    # birthday
    days_before = models.PositiveIntegerField(_("days before the birthday"), default=0,
                                              help_text=_("0: on the birthday itself."))
    audience = models.CharField(_("whose birthdays"), max_length=10, choices=Audience.choices,
                                default=Audience.CLIENTS)
    # lapsed
    lapsed_days = models.PositiveIntegerField(_("not visited for, days"), null=True, blank=True,
                                              help_text=_("A client gets it after this many days without a "
                                                          "visit (what counts as a visit: below)."))
    inactivity = models.CharField(_("counts as not visited"), max_length=10, choices=Inactivity.choices,
                                  default=Inactivity.PASS)
    cooldown_days = models.PositiveIntegerField(
        _("do not repeat within, days"), default=30,
        help_text=_("Lapsed: a client is not messaged again by this campaign within this period. "
                    "NPS: a client is not surveyed again (by any NPS campaign) within it."))
    # optional bonus (birthday, lapsed)
    bonus_points = models.DecimalField(_("bonus points"), max_digits=14, decimal_places=2, null=True, blank=True,
                                       help_text=_("Granted to each client the campaign picks (empty: none)."))
    bonus_expiry_days = models.PositiveIntegerField(_("bonus lives, days"), null=True, blank=True,
                                                    help_text=_("Empty: earned points never expire."))
    # NPS and deal-stage triggers
    crm_connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", verbose_name=_("CRM"))
    from_pipeline = models.CharField(_("from pipeline"), max_length=64, blank=True,
                                     help_text=_("Empty: from any stage."))
    from_stage = models.CharField(_("from stage"), max_length=64, blank=True)
    to_pipeline = models.CharField(_("to pipeline"), max_length=64, blank=True,
                                   help_text=_("Pipeline and stage ids as the CRM names them (listed on the "
                                               "connection's pipelines page)."))
    to_stage = models.CharField(_("to stage"), max_length=64, blank=True)
    # segment
    segment = models.ForeignKey(Segment, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("segment"))
    rules = models.JSONField(_("filter"), default=dict, blank=True,
                             help_text=_("Extra conditions on top of the segment (edited as fields)."))
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True,
                                        help_text=_("Segment mailings: send once at this time."))
    holdout_percent = models.PositiveSmallIntegerField(
        _("control group, %"), default=0,
        help_text=_("This share of the clients the campaign picks (at random, always the same ones) is not "
                    "messaged, so the campaign's effect can be measured against them."))
    # triggers
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices, blank=True)
    cursor = models.BigIntegerField(_("events read up to"), default=0, editable=False)
    periodic_task = models.OneToOneField("django_celery_beat.PeriodicTask", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+", verbose_name=_("schedule"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CampaignRun(models.Model):
    """One selection of a campaign; the key (the day, the scheduled time) makes a second run
    of the same occasion the same run, so nobody gets a second message."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="runs",
                                 verbose_name=_("campaign"))
    key = models.CharField(_("run key"), max_length=100)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    selected = models.PositiveIntegerField(_("selected"), default=0)
    queued = models.PositiveIntegerField(_("messages queued"), default=0)
    unreachable = models.PositiveIntegerField(
        _("not reachable"), default=0, help_text=_("No channel with an address and consent."))
    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("started by"))

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ["-started_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "key"], name="uniq_campaign_run")]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.key}"


class Message(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Not sent")

    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="messages", verbose_name=_("campaign"))
    run = models.ForeignKey(CampaignRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages",
                            verbose_name=_("run"))
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="messages", verbose_name=_("recipient"))
    key = models.CharField(_("idempotency key"), max_length=160, unique=True,
                           help_text=_("One message per person and occasion: a repeated run adds nothing."))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("provider"))
    address = models.CharField(_("address"), max_length=254)
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("template"))
    template_version = models.PositiveIntegerField(_("template version"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    text = models.TextField(_("text"))
    buttons = models.JSONField(_("buttons"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    provider_id = models.CharField(_("provider's id"), max_length=128, blank=True)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    fallback_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="fallback", verbose_name=_("instead of"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["connection", "provider_id"]),
                   models.Index(fields=["campaign", "contact", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk} ({self.get_status_display()})"


def new_survey_token() -> str:
    return secrets.token_urlsafe(16)  # 22 characters: fits a Telegram button's 64-byte data


class NpsSurvey(models.Model):
    """A question "how likely are you to recommend us" after a CRM deal moved; the answer
    (0–10 and a comment, by link, bot button or SMS reply) goes to the contact's CRM card."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="surveys",
                                 verbose_name=_("campaign"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="nps_surveys",
                                verbose_name=_("client"))
    token = models.CharField(_("link token"), max_length=32, unique=True, default=new_survey_token)
    deal_connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+", verbose_name=_("CRM"))
    deal_id = models.CharField(_("deal"), max_length=64, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answer_channel = models.CharField(_("answered via"), max_length=16, blank=True)
    created_at = models.DateTimeField(_("asked"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("NPS survey")
        verbose_name_plural = _("NPS surveys")
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=models.Q(score__isnull=True) | models.Q(score__lte=10),
                                              name="nps_score_0_10")]

    def __str__(self) -> str:
        return f"NPS #{self.pk}: {self.score if self.score is not None else '—'}"


class OneTimeCode(models.Model):
    """A code sent to a phone to prove the client holds it (cabinet sign-in, a bot confirming a
    typed number). Only an HMAC of the code is kept; the wrong guesses against it count towards
    a lock of the phone (see mailings/services/codes.py)."""

    phone = models.CharField(_("phone"), max_length=20, db_index=True)
    purpose = models.CharField(_("purpose"), max_length=32)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    code_hash = models.CharField(_("code hash"), max_length=64, editable=False)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                verbose_name=_("message"))
    created_at = models.DateTimeField(_("sent"), db_index=True)
    expires_at = models.DateTimeField(_("expires"))
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)
    locked_until = models.DateTimeField(
        _("phone locked until"), null=True, blank=True,
        help_text=_("Too many wrong codes: no codes are sent to or checked for this phone until then."))

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["phone", "purpose", "created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} #{self.pk}"
