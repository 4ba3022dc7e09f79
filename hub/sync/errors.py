"""The error taxonomy the sync engine acts on; connectors raise these (or subclasses)."""

from __future__ import annotations


class SyncError(Exception):
    """Base of everything a connector may raise towards the engine."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetryableError(SyncError):
    """Temporary: network, 5xx, 429. The row is tried again later."""


class RateLimited(RetryableError):
    """The provider said slow down (429, QUERY_LIMIT_EXCEEDED…)."""


class FatalError(SyncError):
    """The request itself is wrong (4xx validation): retrying will not help."""

    retryable = False


class AuthError(RetryableError):
    """Credentials rejected. Retried: an operator may fix the connection meanwhile."""


class WebhookRejected(Exception):
    """An inbound request we refuse, with the HTTP status and a reason for the sender."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
