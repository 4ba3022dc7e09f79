"""What a provider's refusal code means for the hub, for providers that answer with numeric
codes (SMS.ru, SMSC): each mapping keeps its own table of ``Problem``s, and ``problem_raise``
turns one into the exception the outbox and the mailings act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from hub.sync.errors import AuthError, FatalError, RateLimited, RetryableError
from mailings.ports import SendRefused

AUTH = "auth"  # credentials: AuthError
BALANCE_LOW = "balance"  # top up, then it goes: RetryableError
REFUSED = "refused"  # this message, for good: SendRefused (the next channel is tried)
LIMIT = "limit"  # slow down: RateLimited
RETRY = "retry"  # the provider's trouble: RetryableError
SETUP = "setup"  # the account's settings (sender name): RetryableError until an operator fixes them
FATAL = "fatal"  # the hub's request is wrong: FatalError


@dataclass(frozen=True)
class Problem:
    kind: str
    message: str  # for operators, in Russian
    retry_after: float | None = None


def problem_raise(found: Problem) -> NoReturn:
    if found.kind == AUTH:
        raise AuthError(found.message)
    if found.kind == REFUSED:
        raise SendRefused(found.message)
    if found.kind == LIMIT:
        raise RateLimited(found.message, retry_after=found.retry_after)
    if found.kind == FATAL:
        raise FatalError(found.message)
    raise RetryableError(found.message, retry_after=found.retry_after)  # balance, set-up, their trouble
