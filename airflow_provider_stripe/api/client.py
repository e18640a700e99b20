"""The client: one Stripe API client on one session, sending requests and mapping their answers.

:class:`StripeClient` checks the key and the settings, sends each ``GET`` paced
(:mod:`~airflow_provider_stripe.api.pacing`), bounded (:mod:`~airflow_provider_stripe.api.transport`)
and retried (:mod:`~airflow_provider_stripe.api.retries`), turns error answers into
typed exceptions carrying Stripe's message, type, code and Request-Id, and keeps
the secret key out of every message. It knows nothing of Airflow connections or
operators; the hook builds it from a Connection. Listing, search and embedded
lists are built on :meth:`StripeClient.request` in their own modules.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import itertools
import json
import platform
import re
import threading
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_provider_stripe import __version__
from airflow_provider_stripe.api import transport
from airflow_provider_stripe.api.embedded import complete_lists
from airflow_provider_stripe.api.encoding import encode_params, endpoint_name, object_path
from airflow_provider_stripe.api.pacing import AdaptivePacer
from airflow_provider_stripe.api.pagination import (
    ListChain,
    Listing,
    ListIterator,
    SearchIterator,
    check_listing,
)
from airflow_provider_stripe.api.parallel import ParallelListIterator
from airflow_provider_stripe.api.params import (
    MAX_PAGE_SIZE,
    MAX_PARALLELISM,
    MAX_RETRIES,
    MAX_RETRY_WAIT,
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    check_int,
    check_rate,
    check_setting,
)
from airflow_provider_stripe.api.responses import body_problem, text_or_none
from airflow_provider_stripe.api.retries import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_WAIT,
    RetryPolicy,
    retry_after_seconds,
    should_retry,
)
from airflow_provider_stripe.api.transport import DEFAULT_BASE_URL
from airflow_provider_stripe.exceptions import (
    StripeAPIError,
    StripeAuthenticationError,
    StripeConfigurationError,
    StripeConnectionError,
    StripeInvalidRequestError,
    StripeNotFoundError,
    StripeParameterError,
    StripePermissionError,
    StripeRateLimitError,
    StripeRequestError,
    StripeResponseError,
)

DEFAULT_TIMEOUT = 80.0
_ERROR_CLASSES: dict[int, type[StripeAPIError]] = {
    400: StripeInvalidRequestError,
    401: StripeAuthenticationError,
    403: StripePermissionError,
    404: StripeNotFoundError,
    429: StripeRateLimitError,
}
_LIVE_PREFIXES = ("sk_live_", "rk_live_")
_TEST_PREFIXES = ("sk_test_", "rk_test_")
#: Every character of a Stripe API key; anything else (spaces, line breaks, non-ASCII) is refused.
_KEY_ALPHABET = re.compile(r"[A-Za-z0-9_]+")
#: A Connect account id (``acct_…``) and an API version (``2024-06-20``, ``2025-03-31.basil``).
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_API_VERSION = re.compile(r"[0-9A-Za-z._-]{1,64}")


def key_mode(api_key: str) -> str:
    """``"live"``, ``"test"`` or ``"unknown"``, from the key's prefix."""
    if api_key.startswith(_LIVE_PREFIXES):
        return "live"
    if api_key.startswith(_TEST_PREFIXES):
        return "test"
    return "unknown"


def _header_value(value: Any, param: str, pattern: re.Pattern[str]) -> str | None:
    """A header setting (``Stripe-Account``, ``Stripe-Version``) in its documented form, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise StripeParameterError(param, f"{value!r} is not a valid {param}")
    return value


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


class StripeClient:
    """A Stripe API client on one ``requests.Session``: paced, retrying, and raising typed errors.

    ``platform`` names what runs it in the User-Agent (the hook passes ``Apache Airflow 3.3.2``),
    so that this layer imports nothing of Airflow.
    """

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
        max_requests_per_second: float | None = None,
        platform: str | None = None,
    ) -> None:
        api_key = (api_key or "").strip()
        if not api_key:
            raise StripeConfigurationError("No Stripe secret key was given.")
        if not _KEY_ALPHABET.fullmatch(api_key):
            raise StripeConfigurationError(
                "The Stripe secret key holds characters no Stripe key has (only letters, digits and _): "
                "look for a space, a line break or a character pasted with it."
            )
        if api_key.startswith("pk_"):
            raise StripeConfigurationError(
                "A publishable key (pk_...) cannot read customers: use a secret key (sk_...) "
                "or a restricted key (rk_...) with Customers Read permission."
            )
        self.base_url = transport.base_url_from(base_url)
        host = transport.check_base_url(self.base_url)
        scheme = urlsplit(self.base_url).scheme
        self.mode = key_mode(api_key)
        if self.mode == "live" and scheme == "http" and not transport.is_loopback(host):
            raise StripeConfigurationError(
                f"Refusing to send a live Stripe key over plain http to {host}: "
                "use an https:// API base URL (plain http is allowed only to a loopback address)."
            )
        self.stripe_account = _header_value(stripe_account, "stripe_account", _ACCOUNT_ID)
        self.stripe_version = _header_value(stripe_version, "stripe_version", _API_VERSION)
        self.max_retries = check_int(max_retries, "max_retries", minimum=0, maximum=MAX_RETRIES)
        self.max_retry_wait = check_setting(max_retry_wait, "max_retry_wait", 0.0, MAX_RETRY_WAIT)
        self.timeout = check_setting(timeout, "timeout", MIN_TIMEOUT, MAX_TIMEOUT)
        self.stats = ClientStats()
        # None (not configured): from the key's mode; a configured rate is where it starts and
        # its ceiling; 0 turns overall pacing off.
        if max_requests_per_second is None:
            self.pacer = AdaptivePacer.for_key(self.mode, sleep=transport.sleep)
        else:
            rate = check_rate(max_requests_per_second, "max_requests_per_second")
            self.pacer = AdaptivePacer(rate, sleep=transport.sleep)
        # Room for every parallel worker to keep its own connection alive.
        self._session = transport.new_session(
            self.base_url, host, self._headers(api_key, platform), pool_size=MAX_PARALLELISM
        )
        self._retrying = RetryPolicy(
            max_retries=self.max_retries,
            max_retry_wait=self.max_retry_wait,
            on_retry=lambda: self.stats.add(retries=1),
            sleep=transport.sleep,
        )

    def _headers(self, api_key: str, runner: str | None) -> dict[str, str]:
        about = [runner] if runner else []
        about += [f"requests {requests.__version__}", f"Python {platform.python_version()}"]
        headers = {
            "Authorization": f"Bearer {api_key}",
            "User-Agent": f"airflow-provider-stripe/{__version__} ({'; '.join(about)})",
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

    def request(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        expect: str | None = None,
        timeout: float | None = None,
        retry: bool = True,
        created_field: str = "created",
    ) -> dict[str, Any]:
        """GET ``/v1/<path>`` with retries; return the decoded JSON object.

        ``expect`` checks the body's shape: ``"object"`` (an object with an ``id``),
        ``"list"`` (a list page no longer than its ``limit``) or ``"created_list"``
        (a list page whose records have an integer ``created``) or ``"search"`` (a
        search result page, paced also by Stripe's search limit). A body of another
        shape raises :class:`StripeResponseError`; ``created_field`` names the
        records' creation time (``date`` for invoice items). ``timeout`` (seconds) may only
        shorten the client's; ``retry=False`` makes one attempt (a connection test).
        """
        params = dict(params or {})
        seconds = self.timeout if timeout is None else min(self.timeout, timeout)
        query = encode_params(params)
        if not retry:
            return self._send(path, query, expect, params, seconds, created_field)
        result: dict[str, Any] = self._retrying(
            self._send, path, query, expect, params, seconds, created_field
        )
        return result

    def _send(
        self,
        path: str,
        query: list[tuple[str, str]],
        expect: str | None,
        params: Mapping[str, Any],
        timeout: float,
        created_field: str,
    ) -> dict[str, Any]:
        search = expect == "search"
        endpoint = endpoint_name(path)
        sent = self.pacer.acquire(endpoint, search=search)
        limited: str | None = None
        self.stats.add(requests=1)
        url = f"{self.base_url}/v1/{path}"
        try:
            with transport.watch(timeout) as watch:
                try:
                    response = self._session.get(url, params=query, timeout=timeout, allow_redirects=False)
                except Exception as exc:
                    if watch.cancel is not None and watch.cancel.is_set():
                        raise transport.Cancelled from None
                    error = transport.transport_error(
                        exc, self.base_url, timed_out=watch.fired, timeout=timeout
                    )
                    raise error from None
            if response.status_code == 429:
                limited = response.headers.get("Stripe-Rate-Limited-Reason") or ""
        finally:
            self.pacer.release(endpoint, sent, search=search, limited=limited)
        request_id = response.headers.get("Request-Id")
        if response.status_code != 200:
            raise self._error(response)
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            raise StripeConnectionError(
                f"Stripe answered 200 with a body that is not JSON ({len(response.content)} bytes)",
                http_status=200,
                request_id=request_id,
                should_retry=True,
            ) from None
        problem = body_problem(body, expect, params, created_field)
        if problem is not None:
            raise StripeResponseError(
                f"GET /v1/{path} answered 200, but {problem}", http_status=200, request_id=request_id
            )
        result: dict[str, Any] = body
        return result

    def redact(self, text: str) -> str:
        """``text`` with the secret key (should a server echo it) replaced by its masked form."""
        key = str(self._session.headers.get("Authorization", ""))[len("Bearer ") :]
        return text.replace(key, f"{key[:8]}****") if key else text

    def _error(self, response: requests.Response) -> StripeAPIError:
        status = response.status_code
        try:
            body = response.json().get("error") or {}
        except (ValueError, AttributeError, RecursionError):
            body = {}
        if not isinstance(body, dict):
            body = {}
        message = (
            body.get("message") or (response.text or "").strip()[:500] or response.reason or "no message"
        )
        retry = should_retry(status, response.headers.get("Stripe-Should-Retry"))
        cls = _ERROR_CLASSES.get(status, StripeAPIError)
        if cls is StripeAPIError and 300 <= status < 500 and not retry:
            cls = StripeRequestError  # a redirect (Stripe sends none: a wrong base URL) or another 4xx
        return cls(
            self.redact(str(message)),
            http_status=status,
            error_type=text_or_none(body.get("type")),
            code=text_or_none(body.get("code")),
            param=text_or_none(body.get("param")),
            request_id=response.headers.get("Request-Id"),
            should_retry=retry,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            rate_limited_reason=text_or_none(response.headers.get("Stripe-Rate-Limited-Reason")),
        )

    # -- resources ---------------------------------------------------------------------------

    def retrieve(
        self,
        collection: str,
        object_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        id_param: str = "id",
    ) -> dict[str, Any]:
        """GET one object: ``/v1/<collection>/<id>`` (a bad id is refused naming ``id_param``)."""
        return self.request(object_path(collection, object_id, id_param), params, expect="object")

    def iterate(
        self,
        collection: str,
        params: Mapping[str, Any],
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
        parallelism: int = 1,
        complete_lists: bool = True,
        created_field: str = "created",
    ) -> ListIterator:
        """Every object of a list endpoint, lazily; see :class:`~.pagination.ListIterator`.

        ``parallelism`` > 1 fetches ``created`` windows concurrently; see
        :class:`~.parallel.ParallelListIterator`. ``complete_lists`` pages each
        record's embedded lists to their end (see :meth:`complete_lists`).
        """
        return self.iterate_listing(
            check_listing(
                collection,
                params,
                page_size=page_size,
                max_records=max_records,
                parallelism=parallelism,
                complete_lists=complete_lists,
                created_field=created_field,
            )
        )

    def iterate_listing(self, listing: Listing) -> ListIterator:
        """The records of a checked :class:`~.pagination.Listing`, lazily (no request until read)."""
        if listing.parallelism > 1:
            return ParallelListIterator(self, listing)
        return ListIterator(self, listing)

    def search(
        self,
        collection: str,
        params: Mapping[str, Any],
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
        complete_lists: bool = True,
    ) -> ListIterator:
        """Every result of ``GET /v1/<collection>/search`` (``params`` holds ``query``), lazily, paced
        also by Stripe's search limit; see :class:`~.pagination.SearchIterator`."""
        search = check_listing(
            f"{collection}/search",
            params,
            page_size=page_size,
            max_records=max_records,
            complete_lists=complete_lists,
        )
        return SearchIterator(self, search)

    def iterate_each(
        self,
        collection: str,
        param_sets: Sequence[Mapping[str, Any]],
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
        parallelism: int = 1,
    ) -> ListIterator:
        """Several listings of one collection (e.g. events of more than 20 types) as one iterator.

        One parameter set is a plain :meth:`iterate`; more run one after the other,
        each in its own order, with ``max_records`` counted across them.
        """
        listings = [  # every listing is checked, once, before any request
            check_listing(
                collection,
                params,
                page_size=page_size,
                max_records=max_records,
                parallelism=parallelism,
                complete_lists=True,
            )
            for params in param_sets
        ]
        if len(listings) == 1:
            return self.iterate_listing(listings[0])

        def part(listing: Listing, limit: int | None) -> ListIterator:
            return self.iterate_listing(dataclasses.replace(listing, max_records=limit))

        makers = [functools.partial(part, listing) for listing in listings]
        return ListChain(self, collection, makers, max_records=max_records)

    def retrieve_many(
        self,
        collection: str,
        object_ids: Iterable[str],
        params: Mapping[str, Any] | None = None,
        *,
        id_param: str = "id",
        parallelism: int = 1,
        missing_ok: bool = False,
    ) -> Generator[dict[str, Any] | None, None, None]:
        """Retrieve many objects, in the order of ``object_ids``, with ``parallelism`` threads.

        Threads share the client's pacing and retries; at most ``2 * parallelism``
        answers are held at once. ``missing_ok`` yields None for an object that
        answers 404 ``resource_missing`` (gone since its id was read) instead of
        raising; any other 404 (a wrong base URL, a proxy) raises. Closing the
        generator abandons what is in flight.
        """
        parallelism = check_int(parallelism, "parallelism", minimum=1, maximum=MAX_PARALLELISM)
        paths = (object_path(collection, object_id, id_param) for object_id in object_ids)
        cancel = threading.Event()

        def fetch(path: str) -> dict[str, Any] | None:
            with transport.cancelled_by(cancel):
                try:
                    return self.request(path, params, expect="object")
                except StripeNotFoundError as exc:
                    if missing_ok and exc.code == "resource_missing":
                        return None
                    raise

        pending: collections.deque[concurrent.futures.Future[dict[str, Any] | None]] = collections.deque()
        pool = concurrent.futures.ThreadPoolExecutor(parallelism, thread_name_prefix="stripe-retrieve")
        try:
            for path in itertools.chain(paths, [None]):
                if path is not None:
                    pending.append(pool.submit(fetch, path))
                while pending and (path is None or len(pending) >= 2 * parallelism):
                    yield pending.popleft().result()
        finally:
            cancel.set()
            transport.poke_watchdog()
            pool.shutdown(wait=False, cancel_futures=True)

    def complete_lists(self, records: Iterable[dict[str, Any]], expand: Sequence[str] | None = None) -> None:
        """Page every embedded list cut short (an invoice's ``lines`` …) to its end, in place; see
        :func:`~airflow_provider_stripe.api.embedded.complete_lists`."""
        complete_lists(self, records, expand)
