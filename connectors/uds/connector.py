"""UDS connector: the bonus-program connector with UDS's adapter.

UDS sends the hub no webhooks a partner can rely on here, so the base connector's refusal
of webhooks stands; changes made at the venue reach the hub through the nightly
reconciliation (and each sync of a client's account).

Connection: base URL ``https://api.uds.app/partner/v2``; credentials ``company_id`` and
``api_key`` (UDS Business → Settings → Integration); settings ``rate_limit`` (default
``10/second``), ``silent_rewards`` (true: grants send no push to the client's app).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from connectors.base.ratelimit import RateLimiter
from connectors.bonus.connector import BonusProgramConnector
from connectors.uds.adapter import UdsProgram
from connectors.uds.client import limiter_for
from hub.models import Connection


class UdsConnector(BonusProgramConnector):
    system = "uds"
    title = _("UDS")
    adapter_class = UdsProgram

    def rate_limiter(self, connection: Connection) -> RateLimiter:
        return limiter_for(connection)
