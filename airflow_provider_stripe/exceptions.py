"""Exceptions raised by the Stripe provider, one class per kind of failure.

Every API error carries what Stripe said about it (HTTP status, ``type``,
``code``, ``message``, ``param``) and the ``Request-Id`` that Stripe support
asks for. None of them ever holds the secret key.

Errors that no retry can fix (bad configuration, bad parameters, and 4xx answers
other than 409 and 429) are :class:`~airflow.sdk.exceptions.AirflowFailException`
subclasses, so Airflow fails the task at once instead of spending its retries.
Everything else (409, 429, 5xx, dropped connections, timeouts) stays retryable.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_stripe.version_compat import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
)


class StripeError(AirflowException):
    """Base class of every error this provider raises."""


class StripeFailError(StripeError, AirflowFailException):
    """An error no retry can fix: Airflow fails the task without using its retries."""


class StripeConfigurationError(StripeFailError):
    """The connection or hook settings are unusable (missing key, publishable key, live key over http)."""


class StripeParameterError(StripeFailError, ValueError):
    """A request parameter is invalid; raised before any request is sent."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"Invalid parameter {param!r}: {message}")


class StripeAPIError(StripeError):
    """Stripe answered with an error (or the request could not complete).

    Also the class for 5xx, 402, 409 and other statuses without a class of their own.
    """

    label = "Stripe API error"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        error_type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        should_retry: bool = False,
        retry_after: float | None = None,
        rate_limited_reason: str | None = None,
    ) -> None:
        self.stripe_message = message
        self.http_status = http_status
        self.error_type = error_type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.should_retry = should_retry
        self.retry_after = retry_after
        #: Which of Stripe's limits a 429 hit (``Stripe-Rate-Limited-Reason``: ``global-rate`` …).
        self.rate_limited_reason = rate_limited_reason
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = self.label if self.http_status is None else f"{self.label} {self.http_status}"
        kind = "/".join(part for part in (self.error_type, self.code) if part)
        parts = [f"{head} ({kind}): {self.stripe_message}" if kind else f"{head}: {self.stripe_message}"]
        if self.param:
            parts.append(f"param={self.param}")
        if self.rate_limited_reason:
            parts.append(f"reason={self.rate_limited_reason}")
        parts.append(f"Request-Id={self.request_id or 'n/a'}")
        return " | ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data (for logs and XCom)."""
        return {
            "http_status": self.http_status,
            "type": self.error_type,
            "code": self.code,
            "message": self.stripe_message,
            "param": self.param,
            "request_id": self.request_id,
        }


class StripeRequestError(StripeAPIError, StripeFailError):
    """A 4xx answer that no retry can fix (400-404, and any 4xx but 409/429 Stripe does not ask to retry)."""


class StripeAuthenticationError(StripeRequestError):
    """401: the key is missing, invalid or expired."""


class StripePermissionError(StripeAuthenticationError):
    """403: the key lacks a permission (for example a restricted key without Customers Read)."""


class StripeInvalidRequestError(StripeRequestError):
    """400: Stripe rejected a parameter (``param`` names it)."""


class StripeNotFoundError(StripeRequestError, AirflowNotFoundException):
    """404: no such object."""


class StripeRateLimitError(StripeAPIError):
    """429: still rate limited after every retry."""


class StripeConnectionError(StripeAPIError):
    """The request never got a whole HTTP answer (connection refused or dropped, timeout, cut-off body)."""

    label = "Stripe connection error"


class StripeResponseError(StripeAPIError):
    """Stripe (or whatever answers at the base URL) sent a success body that is not what the API promises."""

    label = "Malformed Stripe response"
