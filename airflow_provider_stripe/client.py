"""The Stripe REST protocol: HTTP, auth, pacing, retries, pagination and errors.

This module is the only place that talks HTTP. It knows nothing of Airflow
connections or operators, so it stays fast and easy to test; the hook builds a
:class:`StripeClient` from a Connection.
"""

from __future__ import annotations

import collections
import concurrent.futures
import email.utils
import functools
import http.client
import ipaddress
import itertools
import json
import logging
import math
import os
import platform
import queue
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import requests
import urllib3
from tenacity import RetryCallState, Retrying, retry_if_exception
from urllib3.connectionpool import HTTPConnectionPool

from airflow_provider_stripe import __version__
from airflow_provider_stripe.exceptions import (
    StripeAPIError,
    StripeAuthenticationError,
    StripeConfigurationError,
    StripeConnectionError,
    StripeError,
    StripeInvalidRequestError,
    StripeNotFoundError,
    StripeParameterError,
    StripePermissionError,
    StripeRateLimitError,
    StripeRequestError,
    StripeResponseError,
)
from airflow_provider_stripe.pacing import AdaptivePacer
from airflow_provider_stripe.params import (
    MAX_PAGE_SIZE,
    NO_UPPER_BOUND,
    check_id,
    check_int,
    check_number,
    check_optional_int,
    check_rate,
    created_bounds,
)
from airflow_provider_stripe.resources import RESOURCES

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.stripe.com"
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_WAIT = 120.0
DEFAULT_TIMEOUT = 80.0
#: Below Stripe's default per-endpoint limit of 25 requests/s, leaving room for other jobs.
#: Backoff before retry n is min(INITIAL * 2**(n-1), MAX) seconds, scaled by 50-100 % jitter.
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 20.0
PROGRESS_LOG_INTERVAL = 10.0
MAX_PARALLELISM = 32
#: An embedded list longer than this is refused rather than held in memory.
MAX_EMBEDDED_ITEMS = 100_000
#: When a parallel worker steals work, the owner keeps at most this many pages below its cursor.
STEAL_CHUNK_PAGES = 50

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
#: Every character of a Stripe API key; anything else (spaces, line breaks, non-ASCII) is refused.
_KEY_ALPHABET = re.compile(r"[A-Za-z0-9_]+")
#: A Connect account id (``acct_…``) and an API version (``2024-06-20``, ``2025-03-31.basil``).
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_API_VERSION = re.compile(r"[0-9A-Za-z._-]{1,64}")
#: Characters no API base URL may hold: HTTP stacks and URL parsers disagree about them.
#: An embedded list's ``url``: a path under /v1/ (never a host, a query or a dot segment).
_EMBEDDED_URL = re.compile(r"/v1/[A-Za-z0-9_.~%-]+(/[A-Za-z0-9_.~%-]+)*")
#: A query parameter an embedded list's ``url`` may carry (``subscription=sub_…``).
_EMBEDDED_QUERY_NAME = re.compile(r"[A-Za-z0-9_]+")
_URL_FORBIDDEN = re.compile(r"[\s\\\x00-\x1f\x7f-\uffff]")
#: Failures before anything is sent: a header value or URL requests refuses. No retry can fix them.
_UNSENDABLE = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidProxyURL,
    UnicodeError,
)
#: Transport failures that a new attempt can fix: nothing, or only part of an answer, arrived.
_DROPPED = (
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    http.client.HTTPException,
    urllib3.exceptions.HTTPError,
    OSError,
)


def key_mode(api_key: str) -> str:
    """``"live"``, ``"test"`` or ``"unknown"``, from the key's prefix."""
    if api_key.startswith(_LIVE_PREFIXES):
        return "live"
    if api_key.startswith(_TEST_PREFIXES):
        return "test"
    return "unknown"


def _is_loopback(host: str) -> bool:
    """A loopback IP address, or the name ``localhost`` itself (names that a DNS server answers are not)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url_from(host: str | None, port: int | None = None) -> str:
    """The API base URL for a Connection's host and port: https is assumed, Stripe is the default."""
    url = (host or "").strip() or DEFAULT_BASE_URL
    if "://" not in url:
        url = f"https://{url}"
    scheme, separator, rest = url.partition("://")
    url = f"{scheme}{separator}{rest.rstrip('/')}"
    if port and "@" not in url:
        parts = urlsplit(url)
        netloc_port = re.search(r":(\d*)$", parts.netloc)
        if netloc_port is None:
            url = parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
        elif netloc_port.group(1) != str(port):
            raise StripeConfigurationError(
                f"The host {url!r} names a port and the port field says {port}: give the port once."
            )
    return url


def check_base_url(url: str) -> str:
    """Accept only ``http(s)://host[:port][/path]`` and return the host requests will connect to.

    The host is read with urllib3's parser (the one requests connects with) and
    must agree with the standard library's, so a URL such as
    ``http://evil.example\\@127.0.0.1`` cannot pass a loopback check for one host
    and connect to another. Messages never echo a URL that may hold credentials.
    """
    if "@" in url:
        raise StripeConfigurationError(
            "The API base URL must not hold credentials (user:password@): "
            "the Stripe key goes in the connection's password field."
        )
    if _URL_FORBIDDEN.search(url):
        raise StripeConfigurationError(
            "The API base URL must not hold whitespace, backslashes, control or non-ASCII characters "
            f"(got {url!r}); write an international host name in its xn-- form."
        )
    try:
        parts = urlsplit(url)
        stdlib_host, stdlib_port = parts.hostname, parts.port
        parsed = urllib3.util.parse_url(url)
    except (ValueError, urllib3.exceptions.LocationParseError):
        raise StripeConfigurationError(f"API base URL {url!r} has no valid host or port.") from None
    if parts.scheme not in ("http", "https") or not stdlib_host:
        raise StripeConfigurationError(f"API base URL {url!r} is not an http(s) URL.")
    if stdlib_port == 0:
        raise StripeConfigurationError(f"API base URL {url!r} names port 0.")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise StripeConfigurationError(f"API base URL {url!r} must not have a query or a fragment.")
    host = (parsed.host or "").strip("[]").lower()
    if host != stdlib_host or parsed.port != stdlib_port or parsed.scheme != parts.scheme:
        raise StripeConfigurationError(f"API base URL {url!r} is ambiguous: its host cannot be told.")
    return host


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
    so an id can never climb to another endpoint or add query parameters;
    :func:`~airflow_provider_stripe.params.check_id` has refused ``.`` and ``..``.
    """
    check_id(object_id, param)
    return f"{collection}/{quote(object_id, safe='').replace('.', '%2E')}"


def _retry_after_seconds(value: str | None) -> float | None:
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


def _header_value(value: Any, param: str, pattern: re.Pattern[str]) -> str | None:
    """A header setting (``Stripe-Account``, ``Stripe-Version``) in its documented form, or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise StripeParameterError(param, f"{value!r} is not a valid {param}")
    return value


def _text(value: Any) -> str | None:
    """A string field of an error body, or None when the server sent something else."""
    return value if isinstance(value, str) else None


def _malformed(
    body: Any, expect: str | None, params: Mapping[str, Any], created_field: str = "created"
) -> str | None:
    """What is wrong with a success body, or None.

    ``expect``: ``"object"`` (an object with an ``id``), ``"list"`` (a page of
    records with ids, no longer than the ``limit`` asked for, not repeating the
    cursor, so a server that ignores the cursor cannot loop us forever) or
    ``"created_list"`` (also: integer ``created_field`` values, newest first, inside
    the ``created`` range asked for, as parallel listing relies on).
    """
    if not isinstance(body, dict):
        return f"the body is JSON {type(body).__name__}, not an object"
    if expect == "object":
        return None if isinstance(body.get("id"), str) and body["id"] else "the object has no id"
    if expect is None:
        return None
    data = body.get("data")
    if not isinstance(data, list):
        return "the list object has no data array"
    if not isinstance(body.get("has_more"), bool):
        return "the list object has no boolean has_more"
    cursor = params.get("starting_after") or params.get("ending_before")
    for position, record in enumerate(data):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            return f"record {position} of the page has no id"
        if cursor is not None and record["id"] == cursor:
            return f"the page repeats the cursor {cursor!r} it was asked to start after"
    if not data and body["has_more"]:
        return "an empty page says has_more: true, so the list cannot go on"
    limit = params.get("limit")
    if limit is not None and len(data) > limit:
        return f"the page holds {len(data)} records, more than the limit of {limit} asked for"
    if expect == "created_list":
        return _misordered(data, params.get("created"), created_field)
    if expect == "search":
        return _bad_next_page(body, params)
    return None


def _bad_next_page(body: dict[str, Any], params: Mapping[str, Any]) -> str | None:
    """What is wrong with a search result's ``next_page`` cursor, or None."""
    next_page = body.get("next_page")
    if not body["has_more"] and next_page == "":
        return None  # a last page; Stripe sends null
    if next_page is not None and (not isinstance(next_page, str) or not next_page):
        return "its next_page is neither a string nor null"
    if body["has_more"] and next_page is None:
        return "it says has_more: true without a next_page"
    if body["has_more"] and next_page == params.get("page"):
        return "its next_page repeats the page it was asked for, so the search would never end"
    return None


def _misordered(data: list[dict[str, Any]], created: Any, field: str) -> str | None:
    lower, upper = created_bounds(created if isinstance(created, Mapping) else None)
    previous = upper
    for position, record in enumerate(data):
        stamp = record.get(field)
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            return f"record {position} of the page has no integer {field}"
        if not lower <= stamp < upper:
            return f"record {position} was created at {stamp}, outside the created range asked for"
        if stamp > previous:
            return f"record {position} is newer than the one before it: the page is not newest first"
        previous = stamp
    return None


def embedded_list_request(url: Any) -> tuple[str, dict[str, str]] | None:
    """The path (under ``/v1/``) and query of an embedded list's ``url``, or None if it is unusable.

    Only a path on the same API is followed: a host, a scheme, a fragment, a dot
    segment or a query naming a cursor or ``limit`` (ours to set) is refused, so an
    answer cannot send the key elsewhere or steer the paging.
    """
    if not isinstance(url, str) or len(url) > 2048:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or parts.fragment or not _EMBEDDED_URL.fullmatch(parts.path):
        return None
    for segment in parts.path.split("/"):
        decoded = unquote(segment)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:  # an escaped separator
            return None
    try:
        query = parse_qsl(parts.query, strict_parsing=bool(parts.query), max_num_fields=10)
    except ValueError:
        return None
    reserved = ("limit", "starting_after", "ending_before", "page", "expand")
    if any(not _EMBEDDED_QUERY_NAME.fullmatch(name) or name in reserved for name, _ in query):
        return None
    return parts.path.removeprefix("/v1/"), dict(query)


def endpoint_name(path: str) -> str:
    """The endpoint a request path belongs to, ids left out (``invoices/{id}/lines``): per-endpoint pacing."""
    parts = path.split("/")
    for size in (2, 1):
        if "/".join(parts[:size]) in RESOURCES or size == 1:
            rest = parts[size:]
            if rest and rest[0] != "search":
                rest[0] = "{id}"
            return "/".join([*parts[:size], *rest])
    raise AssertionError(path)  # pragma: no cover


class _Cancelled(Exception):
    """The work this thread did was abandoned (a parallel iteration was closed)."""


#: Per thread: the watch of the request in flight, and the event that cancels the thread's work.
_thread = threading.local()


def _cancel_event() -> threading.Event | None:
    event: threading.Event | None = getattr(_thread, "cancel", None)
    return event


def _sleep(seconds: float) -> None:
    """``time.sleep`` that a closed parallel iteration interrupts at once."""
    cancel = _cancel_event()
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise _Cancelled


@dataclass(eq=False)
class _Watch:
    """One request in flight: when it must end, and the connection it runs on."""

    deadline: float
    cancel: threading.Event | None
    connection: Any = None
    fired: bool = False


class _Watchdog:
    """Bounds whole requests: shuts down the socket of any request past its deadline or cancelled.

    A socket timeout only bounds each read, so a server trickling a byte at a time
    could hold a request forever; one daemon thread per process watches every
    request in flight instead.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: set[_Watch] = set()
        self._thread: threading.Thread | None = None
        #: When the watchdog thread wakes next: a later deadline needs no wake-up call.
        self._wake = 0.0

    @contextmanager
    def watch(self, seconds: float) -> Iterator[_Watch]:
        watch = _Watch(time.monotonic() + seconds, _cancel_event())
        with self._cond:
            self._watches.add(watch)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="stripe-request-watchdog", daemon=True)
                self._thread.start()
            elif watch.deadline < self._wake:
                self._cond.notify()
        _thread.watch = watch
        try:
            yield watch
        finally:
            _thread.watch = None
            with self._cond:
                self._watches.discard(watch)

    def poke(self) -> None:
        """Look at every watch now (a cancel event was set)."""
        with self._cond:
            self._cond.notify()

    def attach(self, connection: Any) -> None:
        """``connection`` now serves this thread's request (if it is watched)."""
        watch: _Watch | None = getattr(_thread, "watch", None)
        if watch is not None:
            with self._cond:
                watch.connection = connection
                connection._stripe_watch = watch

    def detach(self, connection: Any) -> None:
        """``connection`` goes back to its pool: no watch may touch it any more."""
        watch: _Watch | None = getattr(connection, "_stripe_watch", None)
        if watch is not None:
            with self._cond:
                if watch.connection is connection:
                    watch.connection = None
                connection._stripe_watch = None

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for watch in list(self._watches):
                    cancelled = watch.cancel is not None and watch.cancel.is_set()
                    if watch.deadline > now and not cancelled:
                        continue
                    sock = getattr(watch.connection, "sock", None)
                    if sock is None:  # not connected yet, or already done: look again soon
                        watch.deadline = now + 0.05
                        continue
                    watch.fired = True
                    self._watches.discard(watch)
                    with suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
                self._wake = min((watch.deadline for watch in self._watches), default=now + 60.0)
                self._cond.wait(max(self._wake - now, 0.001))


_WATCHDOG = _Watchdog()
# A forked task process inherits no watchdog thread and maybe a held lock: start afresh.
os.register_at_fork(after_in_child=lambda: globals().update(_WATCHDOG=_Watchdog()))


@functools.cache
def _watched(pool_class: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    """``pool_class`` whose connections join the current request's watch while they serve it.

    A connection joins when it connects (a proxy tunnel included) and when it sends
    a request, and leaves when it goes back to the pool, before any other request
    can take it: the watchdog never touches a connection serving another request.
    Works for every pool class urllib3 has (http, https, SOCKS).
    """
    if getattr(pool_class, "_stripe_watched", False):
        return pool_class
    base = pool_class.ConnectionCls

    def connect(self: Any) -> None:
        _WATCHDOG.attach(self)
        base.connect(self)

    def request(self: Any, *args: Any, **kwargs: Any) -> None:
        _WATCHDOG.attach(self)
        base.request(self, *args, **kwargs)

    def put_conn(self: Any, conn: Any) -> None:
        if conn is not None:
            _WATCHDOG.detach(conn)
        pool_class._put_conn(self, conn)

    connection = type(f"Watched{base.__name__}", (base,), {"connect": connect, "request": request})
    attributes = {"ConnectionCls": connection, "_put_conn": put_conn, "_stripe_watched": True}
    return type(f"Watched{pool_class.__name__}", (pool_class,), attributes)


def _watch_pools(manager: urllib3.PoolManager) -> urllib3.PoolManager:
    manager.pool_classes_by_scheme = {
        scheme: _watched(pool_class) for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }
    return manager


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose connections (direct or through any proxy) the watchdog can see."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.PoolManager:
        manager: urllib3.PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        return _watch_pools(manager)


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
        max_requests_per_second: float | None = None,
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
        self.base_url = base_url_from(base_url)
        host = check_base_url(self.base_url)
        scheme = urlsplit(self.base_url).scheme
        self.mode = key_mode(api_key)
        if self.mode == "live" and scheme == "http" and not _is_loopback(host):
            raise StripeConfigurationError(
                f"Refusing to send a live Stripe key over plain http to {host}: "
                "use an https:// API base URL (plain http is allowed only to a loopback address)."
            )
        self.stripe_account = _header_value(stripe_account, "stripe_account", _ACCOUNT_ID)
        self.stripe_version = _header_value(stripe_version, "stripe_version", _API_VERSION)
        self.max_retries = check_int(max_retries, "max_retries", minimum=0)
        self.max_retry_wait = check_number(max_retry_wait, "max_retry_wait", allow_zero=True)
        self.timeout = check_number(timeout, "timeout", allow_zero=False)
        self.stats = ClientStats()
        # None (not configured): from the key's mode; a configured rate is where it starts and
        # its ceiling; 0 turns overall pacing off.
        if max_requests_per_second is None:
            self.pacer = AdaptivePacer.for_key(self.mode, sleep=_sleep)
        else:
            rate = check_rate(max_requests_per_second, "max_requests_per_second")
            self.pacer = AdaptivePacer(rate, sleep=_sleep)
        self._session = requests.Session()
        # Read proxy and CA settings from the environment once, not on every request (requests
        # rescans os.environ per call), and never let a ~/.netrc entry replace the key. A loopback
        # target never goes through a proxy: the key would reach the proxy, in clear over http.
        self._session.trust_env = False
        self._session.proxies = (
            {} if _is_loopback(host) else requests.utils.get_environ_proxies(self.base_url)
        )
        self._session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        # Room for every parallel worker to keep its own connection alive.
        adapter = _WatchedAdapter(pool_maxsize=MAX_PARALLELISM)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(self._headers(api_key))
        self._retrying = Retrying(
            retry=retry_if_exception(lambda exc: isinstance(exc, StripeAPIError) and exc.should_retry),
            wait=self._backoff,
            stop=self._should_stop,
            before_sleep=self._log_retry,
            sleep=_sleep,
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
        return self._retrying(self._send, path, query, expect, params, seconds, created_field)

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
            with _WATCHDOG.watch(timeout) as watch:
                try:
                    response = self._session.get(url, params=query, timeout=timeout, allow_redirects=False)
                except Exception as exc:
                    if watch.cancel is not None and watch.cancel.is_set():
                        raise _Cancelled from None
                    raise self._transport_error(exc, timed_out=watch.fired, timeout=timeout) from None
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
        problem = _malformed(body, expect, params, created_field)
        if problem is not None:
            raise StripeResponseError(
                f"GET /v1/{path} answered 200, but {problem}", http_status=200, request_id=request_id
            )
        result: dict[str, Any] = body
        return result

    def _transport_error(self, exc: Exception, *, timed_out: bool, timeout: float) -> StripeError:
        if isinstance(exc, _UNSENDABLE):  # the request cannot be built: settings, not the network
            return StripeConfigurationError(
                f"The request to {self.base_url} cannot be sent ({type(exc).__name__}): check the "
                "connection's API base URL, proxy settings, stripe_version and stripe_account."
            )
        if timed_out or isinstance(exc, requests.Timeout):
            return StripeConnectionError(
                f"No whole answer from {self.base_url} within the timeout of {timeout:g}s",
                should_retry=True,
            )
        if isinstance(exc, requests.exceptions.SSLError):  # a certificate problem: retrying cannot help
            return StripeConnectionError(f"TLS with {self.base_url} failed: {exc}")
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return StripeConnectionError(
                f"Could not reach {self.base_url}: {str(reason).split('): ', 1)[-1]}", should_retry=True
            )
        if isinstance(exc, _DROPPED):
            return StripeConnectionError(
                f"The connection to {self.base_url} failed or was cut off: {exc}", should_retry=True
            )
        return StripeConnectionError(f"Request to {self.base_url} failed: {type(exc).__name__}: {exc}")

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
        advice = (response.headers.get("Stripe-Should-Retry") or "").lower()
        if status in NEVER_RETRY:
            should_retry = False
        elif advice in ("true", "false"):
            should_retry = advice == "true"
        else:
            should_retry = status in (409, 429) or status >= 500
        cls = _ERROR_CLASSES.get(status, StripeAPIError)
        if cls is StripeAPIError and 300 <= status < 500 and not should_retry:
            cls = StripeRequestError  # a redirect (Stripe sends none: a wrong base URL) or another 4xx
        return cls(
            self.redact(str(message)),
            http_status=status,
            error_type=_text(body.get("type")),
            code=_text(body.get("code")),
            param=_text(body.get("param")),
            request_id=response.headers.get("Request-Id"),
            should_retry=should_retry,
            retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
            rate_limited_reason=_text(response.headers.get("Stripe-Rate-Limited-Reason")),
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
        """Every object of a list endpoint, lazily; see :class:`ListIterator`.

        ``parallelism`` > 1 fetches ``created`` windows concurrently; see
        :class:`ParallelListIterator`. ``complete_lists`` pages each record's
        embedded lists to their end (see :meth:`complete_lists`).
        """
        page_size = check_int(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE)
        max_records = check_optional_int(max_records, "max_records", minimum=1)
        parallelism = check_int(parallelism, "parallelism", minimum=1, maximum=MAX_PARALLELISM)
        if parallelism == 1:
            return ListIterator(
                self,
                collection,
                params,
                page_size=page_size,
                max_records=max_records,
                complete_lists=complete_lists,
                created_field=created_field,
            )
        for name in ("starting_after", "ending_before"):
            if params.get(name):
                raise StripeParameterError(
                    "parallelism", f"exports every matching object and cannot be combined with {name}"
                )
        if max_records is not None:
            raise StripeParameterError(
                "parallelism", "exports every matching object and cannot be combined with max_records"
            )
        return ParallelListIterator(
            self,
            collection,
            params,
            page_size=page_size,
            parallelism=parallelism,
            complete_lists=complete_lists,
            created_field=created_field,
        )

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
        also by Stripe's search limit; see :class:`SearchIterator`."""
        return SearchIterator(
            self,
            f"{collection}/search",
            params,
            page_size=check_int(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE),
            max_records=check_optional_int(max_records, "max_records", minimum=1),
            complete_lists=complete_lists,
        )

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

        def part(params: Mapping[str, Any], limit: int | None = max_records) -> ListIterator:
            return self.iterate(
                collection, params, page_size=page_size, max_records=limit, parallelism=parallelism
            )

        first = [part(params) for params in param_sets]  # every listing is checked before a request
        if len(first) == 1:
            return first[0]
        makers = [functools.partial(part, params) for params in param_sets]
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
            _thread.cancel = cancel
            try:
                return self.request(path, params, expect="object")
            except StripeNotFoundError as exc:
                if missing_ok and exc.code == "resource_missing":
                    return None
                raise
            finally:
                _thread.cancel = None

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
            _WATCHDOG.poke()
            pool.shutdown(wait=False, cancel_futures=True)

    def complete_lists(self, records: Iterable[dict[str, Any]], expand: Sequence[str] | None = None) -> None:
        """Page every embedded list cut short (``has_more``: an invoice's ``lines`` …) to its end, in place.

        Each Stripe list with ``has_more: true`` in a record — a field of its own
        (``lines``) or of an expanded object (``subscription.items``) — is paged
        from its own ``url`` and replaced by the whole list (``has_more: false``),
        so no record is written with a list silently cut at 10 items. ``expand``
        (the paths the records were retrieved with; see :func:`listed_paths` for a
        list's) is carried to each list's pages: ``lines.data.price`` expands the
        price of every line, not only of the first 10.
        """
        paths = list(expand or ())
        for record in records:
            for holder, name, value, prefix in _cut_lists(record):
                where = f"{record.get('object')} {_short(record.get('id'))}: its {prefix}{name} list"
                inner = [
                    path[len(f"{prefix}{name}.") :]
                    for path in paths
                    if path.startswith(f"{prefix}{name}.data.")
                ]
                holder[name] = self._complete_list(where, value, inner)

    def _complete_list(self, where: str, embedded: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        request = embedded_list_request(embedded.get("url"))
        data = embedded.get("data")
        if request is None:
            url = self.redact(_short(embedded.get("url")))
            raise StripeResponseError(f"Stripe answered {where} with an unusable url {url}")
        if not isinstance(data, list) or not data:
            raise StripeResponseError(f"Stripe answered {where} that has more items but no data to page from")
        path, query = request
        seen: set[str] = set()
        for item in data:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
                raise StripeResponseError(f"Stripe answered {where} with an item without an id")
            seen.add(item["id"])
        items = list(data)
        while True:
            params = {
                **query,
                "limit": MAX_PAGE_SIZE,
                "starting_after": items[-1]["id"],
                "expand": expand or None,
            }
            page = self.request(path, params, expect="list")
            for item in page["data"]:
                if item["id"] in seen:
                    repeated = self.redact(_short(item["id"]))
                    raise StripeResponseError(
                        f"GET /v1/{path} repeated the item {repeated} of {where}: it would never end"
                    )
                seen.add(item["id"])
            items.extend(page["data"])
            if len(items) > MAX_EMBEDDED_ITEMS:
                raise StripeResponseError(f"{where} has more than {MAX_EMBEDDED_ITEMS} items")
            if not page["has_more"]:
                return {**embedded, "data": items, "has_more": False}


def _cut_lists(
    value: dict[str, Any], prefix: str = "", depth: int = 0
) -> Iterator[tuple[dict[str, Any], str, dict[str, Any], str]]:
    """Every list cut short in ``value`` and in the objects expanded into it (up to 4 levels, as
    Stripe expands): ``(the dict holding it, its key, the list, the path to that dict)``."""
    for name, child in value.items():  # callers replace values only: the dict never grows
        if type(child) is not dict:
            continue
        if child.get("object") == "list":
            if child.get("has_more") is True:
                yield value, name, child, prefix
        elif depth < 3 and "object" in child:  # an expanded object
            yield from _cut_lists(child, f"{prefix}{name}.", depth + 1)


def listed_paths(params: Mapping[str, Any]) -> list[str]:
    """A list request's ``expand`` paths as seen from one of its records (``data.x`` → ``x``)."""
    return [path[len("data.") :] for path in params.get("expand") or () if path.startswith("data.")]


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters: server text in a message stays readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class ClientUsage:
    """What a client has sent since this object was made: for the progress of one listing."""

    def __init__(self, client: StripeClient) -> None:
        self.client = client
        self.started = time.monotonic()
        self._first_request = client.stats.requests
        self._first_retry = client.stats.retries

    @property
    def elapsed(self) -> float:
        """Seconds since this object was created."""
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def requests(self) -> int:
        """HTTP requests sent since (retries included)."""
        return self.client.stats.requests - self._first_request

    @property
    def retries(self) -> int:
        """Requests that were retried since."""
        return self.client.stats.retries - self._first_retry


class ListIterator(ClientUsage, Iterator[dict[str, Any]]):
    """Objects of a Stripe list, fetched one page at a time (memory: one page).

    Pages forward with ``starting_after`` (newest to oldest). Given only
    ``ending_before`` it pages backwards towards the newest and yields each page
    reversed, i.e. oldest to newest, as stripe-python's auto-pagination does.
    After iteration, ``has_more`` says whether ``max_records`` cut the list short
    while more objects matched; ``pages`` and ``records`` count what was fetched.
    ``close()`` (or leaving a ``with`` block) stops it early. ``complete_lists``
    pages each record's embedded lists to their end before it is handed out.
    """

    #: The shape every page must have (see :meth:`StripeClient.request`).
    expect = "list"

    def __init__(
        self,
        client: StripeClient,
        collection: str,
        params: Mapping[str, Any],
        *,
        page_size: int,
        max_records: int | None = None,
        complete_lists: bool = False,
        created_field: str = "created",
    ) -> None:
        super().__init__(client)
        self.collection = collection
        self.params = dict(params)
        self.page_size = page_size
        self.max_records = max_records
        self.complete_lists = complete_lists
        #: The records' creation time (``created``; ``date`` for invoice items).
        self.created_field = created_field
        self.has_more = False
        self.pages = 0
        self.records = 0
        self._last_log = self.started
        self._objects = self._generate()

    def __next__(self) -> dict[str, Any]:
        return next(self._objects)

    def __enter__(self) -> ListIterator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop iterating: no further page is fetched."""
        self._objects.close()

    @property
    def rate(self) -> float:
        """Records per second since the iterator was created."""
        return self.records / self.elapsed

    def summary(self) -> str:
        """Records, pages, rates, retries and elapsed time, for the task log."""
        requests_per_second = self.requests / self.elapsed
        return (
            f"{self.records} records in {self.pages} pages, {self.elapsed:.1f}s ({self.rate:.0f} records/s, "
            f"{requests_per_second:.1f} requests/s, {self.retries} retries; {self.client.pacer.summary()})"
        )

    def _count_page(self, size: int) -> None:
        self.pages += 1
        self.records += size
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_INTERVAL:
            self._last_log = now
            log.info("Stripe %s: %s so far", self.collection, self.summary())

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        params = self.params
        backwards = bool(params.get("ending_before")) and not params.get("starting_after")
        remaining = self.max_records
        boundary: Any = None  # created of the record the next page must not be newer (older) than
        while True:
            # remaining is never below 1 here: a page is never longer than the limit asked for.
            params["limit"] = self.page_size if remaining is None else min(self.page_size, remaining)
            page = self.client.request(self.collection, params, expect=self.expect)
            data: list[dict[str, Any]] = page["data"]
            if data:
                boundary = self._check_sequence(data, boundary, backwards)
            self._count_page(len(data))
            if remaining is not None:
                remaining -= len(data)
            for record in reversed(data) if backwards else data:
                if self.complete_lists:  # one record at a time: memory holds one record's lists
                    self.client.complete_lists([record], listed_paths(params))
                yield record
            if not page["has_more"]:
                return
            if remaining == 0:
                self.has_more = True
                return
            self._turn_page(params, page, backwards)

    def _turn_page(self, params: dict[str, Any], page: dict[str, Any], backwards: bool) -> None:
        """Point ``params`` at the page after ``page``."""
        data = page["data"]
        if backwards:
            params["ending_before"] = data[0]["id"]
        else:
            params["starting_after"] = data[-1]["id"]

    def _check_sequence(self, data: list[dict[str, Any]], boundary: Any, backwards: bool) -> Any:
        """Refuse a page that goes back in ``created`` order (a server cycling through pages).

        Pages run newest to oldest (towards the newest with ``ending_before``); a page
        whose records are newer (older) than the last page's would restart the list.
        Returns the boundary for the next page.
        """
        first, last = data[0].get(self.created_field), data[-1].get(self.created_field)
        ordered = isinstance(boundary, int) and isinstance(first, int) and isinstance(last, int)
        if ordered and ((last < boundary) if backwards else (first > boundary)):
            raise StripeResponseError(
                f"GET /v1/{self.collection} answered a page that goes back in created order after "
                f"page {self.pages}: the list would never end"
            )
        return first if backwards else last


class SearchIterator(ListIterator):
    """Results of a Stripe search (``/v1/<collection>/search``), page by page with ``next_page``.

    Search pages carry an opaque ``page`` cursor instead of object ids, and its
    results are in Stripe's relevance order, not ``created`` order. A result seen
    twice means the pages cycle: that fails rather than loop (memory: the ids seen).
    """

    expect = "search"

    def _check_sequence(self, data: list[dict[str, Any]], boundary: Any, backwards: bool) -> Any:
        seen: set[str] = boundary if isinstance(boundary, set) else set()
        for record in data:
            if record["id"] in seen:
                repeated = self.client.redact(_short(record["id"]))
                raise StripeResponseError(
                    f"GET /v1/{self.collection} answered {repeated} again after page {self.pages}: "
                    "its pages cycle, so the search would never end"
                )
            seen.add(record["id"])
        return seen

    def _turn_page(self, params: dict[str, Any], page: dict[str, Any], backwards: bool) -> None:
        params["page"] = page["next_page"]


class ListChain(ListIterator):
    """Listings run one after the other as one :class:`ListIterator` (counts and ``close`` included)."""

    def __init__(
        self,
        client: StripeClient,
        collection: str,
        parts: Sequence[Callable[[int | None], ListIterator]],
        *,
        max_records: int | None,
    ) -> None:
        self._parts = parts
        super().__init__(client, collection, {}, page_size=MAX_PAGE_SIZE, max_records=max_records)

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        for position, make in enumerate(self._parts):
            remaining = None if self.max_records is None else self.max_records - self.records
            if remaining == 0:
                # Enough records: say whether any later listing still has one (one small request each).
                for probe_part in self._parts[position:]:
                    with probe_part(1) as probe:
                        if next(probe, None) is not None:
                            self.has_more = True
                            return
                return
            with make(remaining) as part:
                yield from part
                self.pages += part.pages
                self.records += part.records
                self.has_more = part.has_more


@dataclass
class _Window:
    """A ``created`` range ``[lo, hi)`` one worker pages through, newest first (``hi`` None: open)."""

    lo: int
    hi: int | None
    cursor: str | None = None
    #: ``created`` of the last object fetched: the owner may still need that second (ties).
    frontier: int | None = None
    #: Objects per second seen in this window, or inherited from the window it was split
    #: from until its own first page (unknown: not split).
    density: float | None = None
    first_created: int | None = None
    fetched: int = 0
    done: bool = False

    def stealable(self) -> int:
        """Seconds a thief could take from the bottom: ``[lo, frontier or hi)``."""
        top = self.frontier if self.frontier is not None else self.hi
        return 0 if top is None or self.done else top - self.lo

    def remaining(self) -> float:
        """Estimated objects left below the frontier (0 while the density is unknown)."""
        span = self.stealable()
        return 0.0 if span < 2 or self.density is None else self.density * span

    def record(self, objects: list[dict[str, Any]], field: str) -> None:
        """Move the cursor past a page of objects (created at ``field``); update the density estimate."""
        self.cursor, self.frontier = objects[-1]["id"], objects[-1][field]
        self.first_created = self.first_created or objects[0][field]
        self.fetched += len(objects)
        self.density = self.fetched / (self.first_created - self.frontier + 1)


class _Crew:
    """The worker threads of one parallel listing and all they share.

    Workers hold this, never the iterator, so an iterator that is dropped is
    collected and its ``__del__`` stops them.
    """

    def __init__(
        self,
        client: StripeClient,
        collection: str,
        params: dict[str, Any],
        *,
        page_size: int,
        parallelism: int,
        complete_lists: bool,
        created_field: str,
    ) -> None:
        self.client = client
        self.collection = collection
        self.page_size = page_size
        self.complete_lists = complete_lists
        self.created_field = created_field
        lower, upper = created_bounds(params.pop("created", None))
        self.params = params
        self.windows = [_Window(lower, None if upper >= NO_UPPER_BOUND else upper)]
        self.lock = threading.Condition()
        self.pages: queue.Queue[list[dict[str, Any]] | BaseException | None] = queue.Queue(
            maxsize=2 * parallelism
        )
        self.stopped = threading.Event()
        # One worker starts on the whole range; the others split it as soon as its first page
        # tells the density, so no request is spent on empty guesses.
        self.threads = [
            threading.Thread(
                target=self._work,
                args=(self.windows[0] if i == 0 else None,),
                name=f"stripe-list-{i}",
                daemon=True,
            )
            for i in range(parallelism)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, wait: float = 0.0) -> None:
        """Tell every worker to stop (abandoning its request in flight); wait up to ``wait`` seconds."""
        with self.lock:
            self.stopped.set()
            self.lock.notify_all()
        _WATCHDOG.poke()
        deadline = time.monotonic() + wait
        for thread in self.threads:
            if wait and thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0.0))

    def _claim(self, previous: _Window | None) -> _Window | None:
        """The next window for a worker (the older part of the busiest window), or None when all are done."""
        with self.lock:
            if previous is not None:
                self.lock.notify_all()
            while not self.stopped.is_set():
                victim = max(self.windows, key=_Window.remaining)
                remaining = victim.remaining()
                # Less than two pages' worth is not worth a split: every split costs a partial page.
                if remaining >= 2 * self.page_size and victim.density:
                    # The owner keeps a chunk just below its frontier (half, at most
                    # STEAL_CHUNK_PAGES pages); the thief takes everything older and pages
                    # it from the top, so an empty old range costs it one request, not many.
                    top = victim.frontier if victim.frontier is not None else victim.hi
                    assert top is not None
                    keep = min(remaining / 2, STEAL_CHUNK_PAGES * self.page_size) / victim.density
                    mid = min(max(top - int(keep), victim.lo + 1), top - 1)
                    stolen = _Window(victim.lo, mid, density=victim.density)
                    victim.lo = mid
                    self.windows.append(stolen)
                    return stolen
                if all(window.done for window in self.windows):
                    return None
                self.lock.wait(timeout=0.05)  # an open window may become stealable after its first page
        return None

    def _drain(self, window: _Window) -> None:
        while not self.stopped.is_set():
            with self.lock:
                created: dict[str, int] = {"gte": window.lo}
                if window.hi is not None:
                    created["lt"] = window.hi
                params = {**self.params, "created": created, "limit": self.page_size}
                if window.cursor:
                    params["starting_after"] = window.cursor
            field = self.created_field
            page = self.client.request(self.collection, params, expect="created_list", created_field=field)
            data: list[dict[str, Any]] = page["data"]
            with self.lock:
                keep = data
                if data and data[-1][field] < window.lo:  # a thief took that part meanwhile
                    keep = [item for item in data if item[field] >= window.lo]
                if keep:
                    window.record(keep, field)
                window.done = len(keep) < len(data) or not page["has_more"]
                done = window.done
                if done and not window.fetched:
                    # An empty range: the inherited density of the unexplored ranges below it is
                    # unfounded, so do not split them until they have been seen.
                    for other in self.windows:
                        if not other.fetched and other.hi is not None and other.hi <= window.lo:
                            other.density = None
            if self.complete_lists:
                self.client.complete_lists(keep, listed_paths(params))
            self._put(keep)
            if done:
                return

    def _put(self, item: list[dict[str, Any]] | BaseException | None) -> None:
        while not self.stopped.is_set():
            try:
                self.pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _work(self, first: _Window | None) -> None:
        _thread.cancel = self.stopped
        try:
            window = first or self._claim(None)
            while window is not None:
                self._drain(window)
                window = self._claim(window)
        except _Cancelled:
            pass
        except BaseException as exc:
            self._put(exc)
            self.stop()
        finally:
            self._put(None)


class ParallelListIterator(ListIterator):
    """Every object of a list, fetched by ``parallelism`` workers over ``created`` windows.

    The ``created`` range (the caller's bounds, or all history) is split into one
    window per worker. Each window is paged newest first with ``created[gte]``/
    ``created[lt]`` and a ``starting_after`` cursor. A worker whose window runs
    dry takes over the older half of the largest remaining window (work
    stealing): the owner's lower bound rises to the split second and anything
    below it in an in-flight page is left to the thief, so every object is
    fetched exactly once, ties in one second included. The newest window is open
    above and starts from the newest object, so objects created while the export
    runs are not included (the next incremental run picks them up). All workers
    share the client's pacing. Order: pages arrive as workers finish them, so
    objects are newest first within a page but not across pages; sort by
    ``(created, id)`` if order matters. Memory: at most ``2 * parallelism`` pages
    queued. Stopping early (``close()``, a ``with`` block, ``break`` then dropping
    the iterator, an exception) stops the workers within a second, abandoning
    requests in flight.
    """

    def __init__(
        self,
        client: StripeClient,
        collection: str,
        params: Mapping[str, Any],
        *,
        page_size: int,
        parallelism: int,
        complete_lists: bool = False,
        created_field: str = "created",
    ) -> None:
        super().__init__(
            client,
            collection,
            params,
            page_size=page_size,
            complete_lists=complete_lists,
            created_field=created_field,
        )
        self.parallelism = parallelism
        self._crew = _Crew(
            client,
            collection,
            self.params,
            page_size=page_size,
            parallelism=parallelism,
            complete_lists=complete_lists,
            created_field=created_field,
        )
        self._page: list[dict[str, Any]] = []
        self._position = 0
        self._running = parallelism
        self._started = False
        self._pid = os.getpid()

    @property
    def windows(self) -> list[_Window]:
        """The ``created`` windows the workers have paged or are paging."""
        return self._crew.windows

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        # Records are handed out by __next__, not by a generator method: its frame would hold
        # the iterator in a reference cycle, and a dropped iterator would outlive its workers.
        nothing: list[dict[str, Any]] = []
        return (record for record in nothing)

    def __next__(self) -> dict[str, Any]:
        while self._position >= len(self._page):
            self._page, self._position = self._next_page(), 0
        record = self._page[self._position]
        self._position += 1
        return record

    def _next_page(self) -> list[dict[str, Any]]:
        crew = self._crew
        if not self._started and not crew.stopped.is_set():
            self._started = True
            crew.start()
        while self._running:
            if os.getpid() != self._pid:
                raise StripeError("A parallel Stripe listing cannot go on in a forked process.")
            try:
                item = crew.pages.get(timeout=0.1)
            except queue.Empty:
                if crew.stopped.is_set() and crew.pages.empty():
                    break  # closed, from this thread or another one
                continue
            if item is None:
                self._running -= 1
            elif isinstance(item, BaseException):
                self.close()
                raise item
            elif item:
                self._count_page(len(item))
                return item
        self._running = 0
        crew.stop()
        raise StopIteration

    def close(self) -> None:
        """Stop iterating and stop the workers (waiting up to a second for them); any thread may call it."""
        self._running, self._page, self._position = 0, [], 0
        self._crew.stop(wait=1.0)

    def __del__(self) -> None:
        crew: _Crew | None = getattr(self, "_crew", None)
        if crew is not None:
            crew.stop()
