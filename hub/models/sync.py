"""Sync engine state: connections, external refs, inbox, outbox, cursors."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from hub.fields import EncryptedJSONField


def new_connection_key() -> str:
    return secrets.token_urlsafe(12).replace("_", "x").replace("-", "y").lower()


class Connection(models.Model):
    """One external account (a Lime venue, an amoCRM account, a Telegram bot…)."""

    system = models.CharField(_("system"), max_length=32, db_index=True,
                              help_text=_("Which connector talks to it (lime, amocrm, bitrix24…)."))
    name = models.CharField(_("name"), max_length=200, unique=True)
    key = models.SlugField(_("webhook key"), max_length=64, unique=True, default=new_connection_key,
                           help_text=_("Part of the webhook URL /hooks/<system>/<key>/; hard to guess."))
    base_url = models.URLField(_("base URL"), blank=True,
                               help_text=_("The address of this account's API, e.g. https://yourname.amocrm.ru. "
                                           "Empty: the system's standard address (Telegram, VK, SMS gateways…)."))
    credentials = EncryptedJSONField(_("credentials"), blank=True, default=dict,
                                     help_text=_("Tokens, passwords, secrets — stored encrypted."))
    settings = models.JSONField(_("settings"), default=dict, blank=True,
                                help_text=_("Connector options: pipelines, field ids, routing…"))
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow",
                                 help_text=_("An IANA name, e.g. Europe/Moscow: birthdays, days and months of this "
                                             "venue are counted in it."))
    enabled = models.BooleanField(_("enabled"), default=True,
                                  help_text=_("Off: the hub stops pulling from and sending to this system, and "
                                              "its webhooks are refused."))
    poll_interval = models.PositiveIntegerField(_("poll interval, s"), default=30,
                                                help_text=_("How often to pull, for systems we poll."))
    last_pull_at = models.DateTimeField(_("last successful pull"), null=True, blank=True)
    last_push_at = models.DateTimeField(_("last successful push"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    pull_failures = models.PositiveIntegerField(
        _("failed pulls in a row"), default=0,
        help_text=_("Each failure doubles the wait before the next pull (up to an hour)."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Secrets never enter the history; workers write their timestamps with update(), unrecorded.
    history = HistoricalRecords(excluded_fields=["credentials", "updated_at"])

    class Meta:
        verbose_name = _("connection")
        verbose_name_plural = _("connections")

    def __str__(self) -> str:
        return f"{self.name} ({self.system})"

    @property
    def webhook_path(self) -> str:
        return f"/hooks/{self.system}/{self.key}/"


class ExternalRef(models.Model):
    """Our row ⇄ their id in one connection, with the fingerprint of what was last exchanged."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="refs",
                                   verbose_name=_("connection"))
    kind = models.CharField(_("kind"), max_length=32, help_text=_("contact, purchase, product…"))
    local_id = models.BigIntegerField(_("local id"), db_index=True)
    external_id = models.CharField(_("external id"), max_length=128)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, blank=True,
                                   help_text=_("Hash of the values last written to / read from them."))
    missing_since = models.DateTimeField(
        _("missing since"), null=True, blank=True,
        help_text=_("A full sync no longer saw it there: deleted on their side? Our row is kept."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("external reference")
        verbose_name_plural = _("external references")
        constraints = [
            models.UniqueConstraint(fields=["connection", "kind", "external_id"], name="uniq_external_ref")
        ]
        indexes = [models.Index(fields=["connection", "kind", "local_id"])]

    def __str__(self) -> str:
        return f"{self.kind}#{self.local_id} ⇄ {self.external_id}"


class Inbox(models.Model):
    """Every inbound event, stored before it is acknowledged; (source, event key) is unique."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        REJECTED = "rejected", _("Rejected")
        FAILED = "failed", _("Failed")

    connection = models.ForeignKey(Connection, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="inbox", verbose_name=_("connection"))
    source = models.CharField(_("source"), max_length=100)
    event_key = models.CharField(_("event key"), max_length=200)
    kind = models.CharField(_("kind"), max_length=64, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    raw_body = models.TextField(_("raw body"), blank=True,
                                help_text=_("Kept verbatim when it could not be parsed."))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.RECEIVED, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("error"), blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("inbox event")
        verbose_name_plural = _("inbox")
        constraints = [models.UniqueConstraint(fields=["source", "event_key"], name="uniq_inbox_event")]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_key}"


class Outbox(models.Model):
    """An outbound change, written in the same transaction as the domain change."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed, will retry")
        DEAD = "dead", _("Dead")
        SKIPPED = "skipped", _("Skipped")

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="outbox",
                                   verbose_name=_("connection"))
    action = models.CharField(_("action"), max_length=64, help_text=_("e.g. contact.upsert"))
    target_kind = models.CharField(_("target kind"), max_length=32, blank=True)
    target_id = models.BigIntegerField(_("target id"), null=True, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices,
                              default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now, db_index=True)
    locked_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    external_id = models.CharField(_("external id"), max_length=128, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")
        # The second serves the dashboard's "sent per hour".
        indexes = [models.Index(fields=["status", "next_attempt_at"]), models.Index(fields=["status", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.action} → {self.connection_id} ({self.status})"


class SyncCursor(models.Model):
    """Where the last pull of one entity from one connection stopped."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="cursors",
                                   verbose_name=_("connection"))
    entity = models.CharField(_("entity"), max_length=64)
    value = models.CharField(_("cursor"), max_length=255, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")
        constraints = [models.UniqueConstraint(fields=["connection", "entity"], name="uniq_sync_cursor")]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.entity}={self.value}"


class CrmDealState(models.Model):
    """The pipeline and stage we last saw a CRM deal in: a move A → B is known even from CRMs
    whose events carry only the deal's id (Bitrix24), and a redelivered event moves nothing."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="deal_states",
                                   verbose_name=_("connection"))
    external_id = models.CharField(_("deal id"), max_length=64)
    pipeline_id = models.CharField(_("pipeline"), max_length=64, blank=True)
    stage_id = models.CharField(_("stage"), max_length=64, blank=True)
    data = models.JSONField(_("last seen"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("CRM deal state")
        verbose_name_plural = _("CRM deal states")
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"], name="uniq_crm_deal_state")]

    def __str__(self) -> str:
        return f"{self.connection_id}:{self.external_id} {self.pipeline_id}/{self.stage_id}"
