"""The hub side of every messaging provider, in terms of the message-channel port
(``mailings.ports``): queued messages pushed one by one (each is checked again just before
sending: consent, opt-out and quiet hours are honoured at the moment of sending, not only
when the campaign picked the client), delivery statuses and replies applied to the domain.
Each provider's package supplies ``channel``, the adapter and the webhook reading."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bots.services.conversation import BotInput, bot_expects, bot_receive
from connectors.base.connector import Connector
from hub.models import Connection, Inbox, Outbox
from hub.services.outbox import max_attempts
from hub.sync.errors import RateLimited, SyncError
from hub.sync.types import CheckResult, PushResult
from mailings.ports import INCOMING, SEND, STATUS, MessageChannel, SendRefused
from mailings.services.delivery import (
    Hold,
    message_failed,
    message_incoming,
    message_prepare,
    message_refused,
    message_sent,
    message_status_apply,
)

log = logging.getLogger(__name__)


class ChannelConnector(Connector):
    subscribes = frozenset({SEND})
    #: the mailings channel this provider serves (``mailings.models.Channel``)
    channel: str = ""
    #: a chat bot answers what clients write (unless the connection's settings say ``"bot": false``);
    #: STOP and survey answers are the mailings' and are not passed on to it
    bot: bool = False
    adapter_class: Callable[[Connection], MessageChannel]

    def adapter(self, connection: Connection) -> MessageChannel:
        return self.adapter_class(connection)

    def check_connection(self, connection: Connection) -> CheckResult:
        try:
            about = self.adapter(connection).check()
        except SyncError as exc:
            return CheckResult(ok=False, message=f"{self.title}: не удалось подключиться: {exc}")
        return CheckResult(ok=True, message=f"{self.title}: подключение работает. {about}")

    def push_batch(self, connection: Connection, rows: list[Outbox]) -> dict[int, PushResult]:
        """One provider call per message. A rate limit or an outage stops the batch: the rest
        waits for the next drain instead of hammering the provider; a request the provider
        calls wrong fails that message only."""
        adapter = self.adapter(connection)
        results: dict[int, PushResult] = {}
        for n, row in enumerate(rows):
            message_id = int(row.target_id or 0)
            prepared = message_prepare(message_id)
            if isinstance(prepared, Hold):
                results[row.pk] = (PushResult(ok=False, error=prepared.reason, retry_after=prepared.retry_after,
                                              rate_limited=True)  # waiting is not the row's fault
                                   if prepared.retry_after is not None else
                                   PushResult(ok=True, external_id=""))  # not to be sent: done
                continue
            try:
                provider_id = adapter.send(prepared)
            except SendRefused as exc:
                message_refused(message_id, exc.reason)
                results[row.pk] = PushResult(ok=False, retryable=False, error=exc.reason)
            except SyncError as exc:
                if not exc.retryable:  # this request is wrong: only this message fails
                    message_failed(message_id, str(exc), final=True)
                    results[row.pk] = PushResult(ok=False, retryable=False, error=str(exc))
                    continue
                rate_limited = isinstance(exc, RateLimited)
                result = PushResult(ok=False, error=str(exc), retry_after=exc.retry_after, rate_limited=rate_limited)
                for rest in rows[n:]:
                    final = rest.attempts >= max_attempts(connection) and not rate_limited
                    if rest is row or final:  # the rest were not tried: only a last attempt counts for them
                        message_failed(int(rest.target_id or 0), str(exc), final=final)
                    results[rest.pk] = result
                break
            except Exception as exc:  # an adapter bug: this message waits for a retry, the batch goes on
                log.exception("sending message %s crashed", message_id)
                final = row.attempts >= max_attempts(connection)
                message_failed(message_id, f"{type(exc).__name__}: {exc}", final=final)
                results[row.pk] = PushResult(ok=False, error=f"{type(exc).__name__}: {exc}")
            else:
                message_sent(message_id, provider_id)
                results[row.pk] = PushResult(ok=True, external_id=provider_id)
        return results

    # ------------------------------------------------------------------ inbound
    def handle_inbox(self, row: Inbox, fetched: Any = None) -> Any:
        payload = row.payload
        if row.kind == STATUS:
            return message_status_apply(row.connection, str(payload.get("provider_id") or ""),
                                        str(payload.get("status") or ""), str(payload.get("error") or ""))
        if row.kind == INCOMING:
            bot = self.bot and row.connection is not None and (row.connection.settings or {}).get("bot", True)
            address, data = str(payload.get("address") or ""), str(payload.get("data") or "")
            waiting = bot and bot_expects(row.connection, address, data)
            outcome = message_incoming(row.connection, self.channel,
                                       address_kind=str(payload.get("address_kind") or ""), address=address,
                                       text=str(payload.get("text") or ""), data=data,
                                       provider_id=str(payload.get("provider_id") or ""), surveys=not waiting)
            if bot and "opted_out" not in outcome and not outcome.get("nps"):
                outcome["bot"] = bot_receive(row.connection, self.channel, BotInput.from_payload(payload))
            return outcome
        return {"ignored": row.kind}  # kept for the record (bot updates the mailings do not use)
