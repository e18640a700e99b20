"""The Stripe REST protocol: HTTP, auth, pacing, retries, pagination and errors.

This module is the only place that talks HTTP. It knows nothing of Airflow
connections or operators, so it stays fast and easy to test; the hook builds a
:class:`StripeClient` from a Connection.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import platform
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception

from airflow_provider_stripe import __version__
from airflow_provider_stripe.exceptions import (
    StripeAPIError,
    StripeAuthenticationError,
    StripeConfigurationError,
    StripeConnectionError,
    StripeInvalidRequestError,
    StripeNotFoundError,
    StripePermissionError,
    StripeRateLimitError,
)
from airflow_provider_stripe.params import MAX_PAGE_SIZE, check_id, check_int, check_optional_int

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.stripe.com"
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 120.0
DEFAULT_TIMEOUT = 80.0
#: Below Stripe's default per-endpoint limit of 25 requests/s, leaving room for other jobs.
DEFAULT_MAX_REQUESTS_PER_SECOND = 20.0
#: Backoff before retry n is min(INITIAL * 2**(n-1), MAX) seconds, scaled by 50-100 % jitter.
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 20.0
PROGRESS_LOG_INTERVAL = 10.0

#: Statuses that are never retried, whatever the response headers say.
NEVER_RETRY = frozenset({400, 401, 402, 403, 404})
_ERROR_CLASSES: dict[int, type[StripeAPIError]] = {
    400: StripeInvalidRequestError,
    401: StripeAuthenticationError,
    403: StripePermissionError,
    404: StripeNotFoundError,
    429: StripeRateLimitError,
}
_LIVE_PREFIXES = ("sk_live_", "rk_live_")
_TEST_PREFIXES = ("sk_test_", "rk_test_")


def key_mode(api_key: str) -> str:
    """``"live"``, ``"test"`` or ``"unknown"``, from the key's prefix."""
    if api_key.startswith(_LIVE_PREFIXES):
        return "live"
    if api_key.startswith(_TEST_PREFIXES):
        return "test"
    return "unknown"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_from(host: str | None, port: int | None = None) -> str:
    """The API base URL for a Connection's host and port: https is assumed, Stripe is the default."""
    url = (host or "").strip().rstrip("/") or DEFAULT_BASE_URL
    if "://" not in url:
        url = f"https://{url}"
    if port and urlsplit(url).port is None:
        url = f"{url}:{port}"
    return url


def encode_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Form-encode parameters the way Stripe expects: ``created[gte]=…``, ``expand[]=…``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            pairs.extend((f"{key}[{sub}]", _scalar(item)) for sub, item in value.items())
        elif isinstance(value, (list, tuple)):
            pairs.extend((f"{key}[]", _scalar(item)) for item in value)
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def object_path(collection: str, object_id: str, param: str = "id") -> str:
    """``collection/<id>`` with the id escaped as exactly one path segment.

    Everything but letters, digits, ``_`` and ``-`` is percent-encoded (dots too),
    so an id can never climb to another endpoint or add query parameters.
    """
    check_id(object_id, param)
    return f"{collection}/{quote(object_id, safe='').replace('.', '%2E')}"


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value.strip() else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


@dataclass
class ClientStats:
    """Counters shared by every thread using one client."""

    requests: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, retries: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries


class RequestPacer:
    """Client-side pacing: a token bucket of capacity one, shared by all threads of a client.

    Requests are spaced at least ``1 / max_requests_per_second`` apart, so no
    one-second window ever holds more than the budget. ``None`` or ``0`` turns pacing off.
    """

    def __init__(self, max_requests_per_second: float | None) -> None:
        self.interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may send its request."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class StripeClient:
    """A Stripe API client on one ``requests.Session``: paced, retrying, and raising typed errors."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        stripe_account: str | None = None,
        stripe_version: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        timeout: float = DEFAULT_TIMEOUT,
        max_requests_per_second: float | None = DEFAULT_MAX_REQUESTS_PER_SECOND,
    ) -> None:
        api_key = (api_key or "").strip()
        if not api_key:
            raise StripeConfigurationError("No Stripe secret key was given.")
        if api_key.startswith("pk_"):
            raise StripeConfigurationError(
                "A publishable key (pk_...) cannot read customers: use a secret key (sk_...) "
                "or a restricted key (rk_...) with Customers Read permission."
            )
        self.base_url = base_url_from(base_url)
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StripeConfigurationError(f"API base URL {self.base_url!r} is not an http(s) URL.")
        self.mode = key_mode(api_key)
        if self.mode == "live" and parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise StripeConfigurationError(
                f"Refusing to send a live Stripe key over plain http to {parts.hostname}: "
                "use an https:// API base URL (plain http is allowed only to a loopback address)."
            )
        self.stripe_account = stripe_account or None
        self.stripe_version = stripe_version or None
        self.max_retries = check_int(max_retries, "max_retries", minimum=0)
        self.max_retry_wait = float(max_retry_wait)
        self.timeout = float(timeout)
        self.stats = ClientStats()
        self._pacer = RequestPacer(max_requests_per_second)
        self._session = requests.Session()
        self._session.headers.update(self._headers(api_key))
        self._retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, StripeAPIError) and exc.should_retry),
            wait=self._backoff,
            stop=self._should_stop,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def _headers(self, api_key: str) -> dict[str, str]:
        from airflow import __version__ as airflow_version

        headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": (
                f"airflow-provider-stripe/{__version__} (Apache Airflow {airflow_version}; "
                f"requests {requests.__version__}; Python {platform.python_version()})"
            ),
            "Accept": "application/json",
        }
        if self.stripe_account:
            headers["Stripe-Account"] = self.stripe_account
        if self.stripe_version:
            headers["Stripe-Version"] = self.stripe_version
        return headers

    def __repr__(self) -> str:
        return (
            f"StripeClient(base_url={self.base_url!r}, mode={self.mode!r}, "
            f"stripe_account={self.stripe_account!r}, stripe_version={self.stripe_version!r})"
        )

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._session.close()

    # -- requests ---------------------------------------------------------------------------

    def request(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET ``/v1/<path>`` with retries; return the decoded JSON body."""
        return self._retrying(self._send, path, encode_params(params or {}))

    def _send(self, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        self._pacer.wait()
        self.stats.add(requests=1)
        url = f"{self.base_url}/v1/{path}"
        try:
            response = self._session.get(url, params=query, timeout=self.timeout)
        except requests.Timeout as exc:
            raise StripeConnectionError(
                f"Timed out after {self.timeout:g}s talking to {self.base_url}: {exc}", should_retry=True
            ) from None
        except requests.ConnectionError as exc:
            raise StripeConnectionError(
                f"Could not reach {self.base_url}: {exc}", should_retry=True
            ) from None
        except requests.RequestException as exc:
            raise StripeConnectionError(f"Request to {self.base_url} failed: {exc}") from None
        if response.status_code == 200:
            try:
                body: dict[str, Any] = response.json()
                return body
            except ValueError:
                raise StripeConnectionError(
                    f"Stripe answered 200 with a body that is not JSON ({len(response.content)} bytes)",
                    http_status=200,
                    request_id=response.headers.get("Request-Id"),
                    should_retry=True,
                ) from None
        raise self._error(response)

    @staticmethod
    def _error(response: requests.Response) -> StripeAPIError:
        status = response.status_code
        try:
            body = response.json().get("error") or {}
        except (ValueError, AttributeError):
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = (
            body.get("message") or (response.text or "").strip()[:500] or response.reason or "no message"
        )
        advice = (response.headers.get("Stripe-Should-Retry") or "").lower()
        if status in NEVER_RETRY:
            should_retry = False
        elif advice in ("true", "false"):
            should_retry = advice == "true"
        else:
            should_retry = status in (409, 429) or status >= 500
        cls = _ERROR_CLASSES.get(status, StripeAPIError)
        return cls(
            message,
            http_status=status,
            error_type=body.get("type"),
            code=body.get("code"),
            param=body.get("param"),
            request_id=response.headers.get("Request-Id"),
            should_retry=should_retry,
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
        )

    # -- retry policy (tenacity callbacks) -------------------------------------------------

    def _backoff(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, StripeAPIError) and exc.retry_after is not None:
            return exc.retry_after
        return float(
            min(INITIAL_BACKOFF * 2 ** (state.attempt_number - 1), MAX_BACKOFF) * random.uniform(0.5, 1.0)
        )

    def _should_stop(self, state: RetryCallState) -> bool:
        return (
            state.attempt_number > self.max_retries
            or state.idle_for + state.upcoming_sleep > self.max_retry_wait
        )

    def _log_retry(self, state: RetryCallState) -> None:
        self.stats.add(retries=1)
        exc = state.outcome.exception() if state.outcome else None
        assert isinstance(exc, StripeAPIError)
        log.warning(
            "Stripe request failed (status %s, attempt %d of %d), retrying in %.2fs | Request-Id=%s | %s",
            exc.http_status if exc.http_status is not None else "no response",
            state.attempt_number,
            self.max_retries + 1,
            state.upcoming_sleep,
            exc.request_id or "n/a",
            exc.stripe_message,
        )

    # -- resources ---------------------------------------------------------------------------

    def retrieve(
        self, collection: str, object_id: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """GET one object: ``/v1/<collection>/<id>``."""
        return self.request(object_path(collection, object_id), params)

    def iterate(
        self,
        collection: str,
        params: Mapping[str, Any],
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
    ) -> ListIterator:
        """Every object of a list endpoint, lazily; see :class:`ListIterator`."""
        return ListIterator(
            self,
            collection,
            params,
            page_size=check_int(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE),
            max_records=check_optional_int(max_records, "max_records", minimum=1),
        )


class ListIterator(Iterator[dict[str, Any]]):
    """Objects of a Stripe list, fetched one page at a time (memory: one page).

    Pages forward with ``starting_after`` (newest to oldest). Given only
    ``ending_before`` it pages backwards towards the newest and yields each page
    reversed, i.e. oldest to newest, as stripe-python's auto-pagination does.
    After iteration, ``has_more`` says whether ``max_records`` cut the list short
    while more objects matched; ``pages`` and ``records`` count what was fetched.
    """

    def __init__(
        self,
        client: StripeClient,
        collection: str,
        params: Mapping[str, Any],
        *,
        page_size: int,
        max_records: int | None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.params = dict(params)
        self.page_size = page_size
        self.max_records = max_records
        self.has_more = False
        self.pages = 0
        self.records = 0
        self.started = time.monotonic()
        self._pages = self._generate()

    def __next__(self) -> dict[str, Any]:
        return next(self._pages)

    @property
    def rate(self) -> float:
        """Records per second since the iterator was created."""
        return self.records / max(time.monotonic() - self.started, 1e-9)

    def _generate(self) -> Iterator[dict[str, Any]]:
        params = self.params
        backwards = bool(params.get("ending_before")) and not params.get("starting_after")
        cursor_param = "ending_before" if backwards else "starting_after"
        remaining = self.max_records
        last_log = self.started
        while True:
            params["limit"] = self.page_size if remaining is None else min(self.page_size, remaining)
            page = self.client.request(self.collection, params)
            data: list[dict[str, Any]] = page["data"]
            self.pages += 1
            self.records += len(data)
            if remaining is not None:
                remaining -= len(data)
            now = time.monotonic()
            if now - last_log >= PROGRESS_LOG_INTERVAL:
                last_log = now
                log.info(
                    "Stripe %s: %d records in %d pages (%.0f records/s, %d retries)",
                    self.collection,
                    self.records,
                    self.pages,
                    self.rate,
                    self.client.stats.retries,
                )
            yield from (reversed(data) if backwards else data)
            if not page.get("has_more") or not data:
                return
            if remaining == 0:
                self.has_more = True
                return
            params[cursor_param] = data[0]["id"] if backwards else data[-1]["id"]
