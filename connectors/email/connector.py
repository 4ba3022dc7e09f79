"""E-mail as a mailings channel (no webhooks: mail servers report nothing back to the hub)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from connectors.channels.connector import ChannelConnector
from connectors.email.adapter import EmailChannel


class EmailConnector(ChannelConnector):
    system = "email"
    title = _("E-mail")
    channel = "email"
    adapter_class = EmailChannel
