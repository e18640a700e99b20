"""Retries: which failures are tried again, how long each retry waits, and when to give up.

Stripe's advice comes first (``Stripe-Should-Retry``), except that statuses no
retry can fix (400, 401, 402, 403, 404) never retry; without advice 409, 429 and
5xx retry, and so do dropped connections. Each retry waits an exponential,
jittered backoff, or ``Retry-After`` when that is longer: a header can make a
retry wait more, never less, so retries never add to a storm. A client gives up
after ``max_retries`` retries or when the waits would pass ``max_retry_wait``.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception

from airflow_provider_stripe.exceptions import StripeAPIError

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 120.0
#: Backoff before retry n is min(INITIAL * 2**(n-1), MAX) seconds, scaled by 50-100 % jitter.
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 20.0
#: Statuses that are never retried, whatever the response headers say.
NEVER_RETRY = frozenset({400, 401, 402, 403, 404})


def should_retry(status: int, advice: str | None) -> bool:
    """Whether an error answer with ``status`` and ``Stripe-Should-Retry: advice`` is tried again."""
    if status in NEVER_RETRY:
        return False
    advice = (advice or "").lower()
    if advice in ("true", "false"):
        return advice == "true"
    return status in (409, 429) or status >= 500


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or malformed."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def backoff(attempt: int) -> float:
    """The jittered exponential wait before retrying after failed attempt number ``attempt``."""
    return float(min(INITIAL_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF) * random.uniform(0.5, 1.0))


class RetryPolicy:
    """The retry loop of one client: tenacity, with the waits, stop rule and log lines above.

    ``on_retry`` is called once per retry (the client counts them); ``sleep`` is
    the client's, so a closed parallel listing interrupts a wait.
    """

    def __init__(
        self,
        *,
        max_retries: int,
        max_retry_wait: float,
        on_retry: Callable[[], None],
        sleep: Callable[[float], None],
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self._on_retry = on_retry
        self._retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, StripeAPIError) and exc.should_retry),
            wait=self._wait,
            stop=self._should_stop,
            before_sleep=self._log_retry,
            sleep=sleep,
            reraise=True,
        )

    def __call__(self, send: Callable[..., Any], *args: Any) -> Any:
        """``send(*args)``, retried as this policy says."""
        return self._retrying(send, *args)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        wait = backoff(state.attempt_number)
        if isinstance(exc, StripeAPIError) and exc.retry_after is not None:
            return max(exc.retry_after, wait)
        return wait

    def _should_stop(self, state: RetryCallState) -> bool:
        return (
            state.attempt_number > self.max_retries
            or state.idle_for + state.upcoming_sleep > self.max_retry_wait
        )

    def _log_retry(self, state: RetryCallState) -> None:
        self._on_retry()
        exc = state.outcome.exception() if state.outcome else None
        assert isinstance(exc, StripeAPIError)
        status = exc.http_status if exc.http_status is not None else "no response"
        if exc.rate_limited_reason:
            status = f"{status}, reason={exc.rate_limited_reason}"
        log.warning(
            "Stripe request failed (status %s, attempt %d of %d), retrying in %.2fs | Request-Id=%s | %s",
            status,
            state.attempt_number,
            self.max_retries + 1,
            state.upcoming_sleep,
            exc.request_id or "n/a",
            exc.stripe_message,
        )
