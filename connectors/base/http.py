"""The HTTP client every connector builds on.

One requests Session per client, timeouts always, responses turned into the engine's
typed errors (retryable vs fatal), 429/503 Retry-After honoured (short waits in place,
long ones handed to the outbox as the next attempt time), PII-masked logs, metrics hooks.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.base import metrics
from connectors.base.ratelimit import RateLimiter
from hub.logging import mask_text
from hub.sync.errors import AuthError, FatalError, RateLimited, RetryableError, SyncError

log = logging.getLogger(__name__)
MAX_RETRY_AFTER = 24 * 3600.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit() or value.replace(".", "", 1).isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(max(0.0, when.timestamp() - time.time()), MAX_RETRY_AFTER)


class HttpClient:
    """Subclass per system; override ``auth_headers`` and ``error_message`` as needed."""

    system = "http"
    timeout: tuple[float, float] = (5.0, 30.0)  # connect, read
    max_inline_wait = 5.0  # Retry-After up to this is waited out here
    max_inline_retries = 2

    def __init__(self, base_url: str, *, connection_id: int | None = None,
                 rate_limiter: RateLimiter | None = None, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.connection_id = connection_id
        self.rate_limiter = rate_limiter
        self.session = session or requests.Session()

    # hooks for subclasses -------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {}

    def url_secrets(self) -> tuple[str, ...]:
        """Secrets some APIs put in the URL itself (a bot token, an instance token): hidden from
        logs, metrics and error messages, and errors do not chain the library's exception (its
        text names the URL)."""
        return ()

    def hide(self, text: str) -> str:
        for secret in self.url_secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def error_message(self, response: requests.Response) -> str:
        """A readable reason from the provider's error body."""
        text = response.text[:500]
        return f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"

    # the one call -----------------------------------------------------------
    def request(self, method: str, path: str, *, expected: tuple[int, ...] = (), **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        kwargs.setdefault("timeout", self.timeout)
        extra_headers = kwargs.pop("headers", None) or {}
        for attempt in range(self.max_inline_retries + 1):
            # Headers first: a token refresh may wait on a lock, and a slot taken before that wait
            # would reach the provider late, in its next window, on top of that window's own calls.
            headers = {**self.auth_headers(), **extra_headers}
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            response = self._send(method, url, headers=headers, **kwargs)
            if response.status_code in (429, 503):
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is None:
                    retry_after = self.retry_after_for(response)
                wait_here = retry_after is not None and retry_after <= self.max_inline_wait
                if wait_here and attempt < self.max_inline_retries:
                    time.sleep(retry_after)
                    continue
                # A 429, or a 503 the provider means as "slow down" (it told us how long to wait).
                slow_down = response.status_code == 429 or retry_after is not None
                error = RateLimited if slow_down else RetryableError
                raise error(self.error_message(response), retry_after=retry_after)
            return self._check(response, expected)
        raise RetryableError("retries exhausted")  # pragma: no cover - loop always returns or raises

    def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON answer; a non-JSON answer is a retryable error
        (proxies and maintenance pages answer HTML with 200)."""
        return self.decode_json(self.request(method, path, **kwargs))

    def decode_json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            path = self.hide(urlsplit(response.url or "").path)
            raise RetryableError(f"{self.system}: {path} answered non-JSON: {response.text[:200]!r}") from (
                None if self.url_secrets() else exc)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        path = self.hide(urlsplit(url).path)
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            error: SyncError
            if isinstance(exc, requests.Timeout):
                self._emit(method, path, None, started, "timeout")
                error = RetryableError(f"{self.system}: timeout calling {path}")
            elif isinstance(exc, requests.ConnectionError):
                self._emit(method, path, None, started, "connection error")
                error = RetryableError(f"{self.system}: cannot connect to {urlsplit(url).netloc}")
            elif isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                            | requests.exceptions.InvalidSchema | requests.TooManyRedirects):
                self._emit(method, path, None, started, type(exc).__name__)
                error = FatalError(f"{self.system}: bad address {self.hide(url)!r}: {type(exc).__name__}")
            else:  # broken body, decoding…: the next try may work
                self._emit(method, path, None, started, type(exc).__name__)
                error = RetryableError(f"{self.system}: {type(exc).__name__} calling {path}")
            raise error from (None if self.url_secrets() else exc)
        self._emit(method, path, response.status_code, started)
        return response

    def _emit(self, method: str, path: str, status: int | None, started: float, error: str = "") -> None:
        """``path`` comes here with URL secrets already hidden."""
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s %s -> %s in %.0f ms", self.system, method, mask_text(path), status or error, elapsed)
        metrics.emit(metrics.RequestMetric(self.system, self.connection_id, method, path, status, elapsed, error))

    def retry_after_for(self, response: requests.Response) -> float | None:
        """Hook: how long to wait after a 429/503 that carries no Retry-After header."""
        return None

    def classify(self, response: requests.Response) -> None:
        """Hook: raise a system-specific error for this answer before the generic mapping."""

    def _check(self, response: requests.Response, expected: tuple[int, ...]) -> requests.Response:
        status = response.status_code
        if expected and status in expected:
            return response
        if 200 <= status < 300:
            return response
        self.classify(response)
        message = self.error_message(response)
        if status in (401, 403):
            raise AuthError(message)
        if status in (408, 409, 423, 425) or status >= 500:
            raise RetryableError(message, retry_after=parse_retry_after(response.headers.get("Retry-After")))
        raise FatalError(message)
