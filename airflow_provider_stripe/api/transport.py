"""Transport: the HTTP session, the base-URL, proxy and loopback rules, and the request watchdog.

Everything below the Stripe protocol: which base URLs a key may be sent to, how
the ``requests`` session is set up (no ``.netrc``, proxies read once, never a
proxy for loopback), the watchdog that bounds a whole request (a socket timeout
bounds only each read), the cancellation a closed parallel listing sends to its
threads, and what a failed send means (retry, or a setting to fix).
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.connectionpool import HTTPConnectionPool

from airflow_provider_stripe.exceptions import (
    StripeConfigurationError,
    StripeConnectionError,
    StripeError,
)

DEFAULT_BASE_URL = "https://api.stripe.com"
#: Characters no API base URL may hold: HTTP stacks and URL parsers disagree about them.
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


# -- base URLs --------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
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


# -- cancellation -----------------------------------------------------------------------------


class Cancelled(Exception):
    """The work this thread did was abandoned (a parallel iteration was closed)."""


#: Per thread: the watch of the request in flight, and the event that cancels the thread's work.
_thread = threading.local()


def cancel_event() -> threading.Event | None:
    """The event that cancels this thread's work, if it works for a parallel iteration."""
    event: threading.Event | None = getattr(_thread, "cancel", None)
    return event


@contextmanager
def cancelled_by(event: threading.Event) -> Iterator[None]:
    """Run this thread's requests and waits so that setting ``event`` abandons them at once."""
    _thread.cancel = event
    try:
        yield
    finally:
        _thread.cancel = None


def sleep(seconds: float) -> None:
    """``time.sleep`` that a closed parallel iteration interrupts at once."""
    cancel = cancel_event()
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise Cancelled


# -- the watchdog -----------------------------------------------------------------------------


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
        watch = _Watch(time.monotonic() + seconds, cancel_event())
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
# Other modules reach it only through the functions below, never by a reference of their own.
os.register_at_fork(after_in_child=lambda: globals().update(_WATCHDOG=_Watchdog()))


def watch(seconds: float) -> AbstractContextManager[_Watch]:
    """Bound the request this thread sends inside the block to ``seconds`` (or its cancellation)."""
    return _WATCHDOG.watch(seconds)


def poke_watchdog() -> None:
    """Make the watchdog look at every request now: a cancel event was just set."""
    _WATCHDOG.poke()


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


# -- the session ------------------------------------------------------------------------------


def new_session(base_url: str, host: str, headers: Mapping[str, str], *, pool_size: int) -> requests.Session:
    """A session for ``base_url`` (whose checked host is ``host``), sending ``headers``.

    Proxy and CA settings are read from the environment once, not on every
    request (requests rescans ``os.environ`` per call), and a ``~/.netrc`` entry
    never replaces the key. A loopback target never goes through a proxy: the key
    would reach the proxy, in clear over http. ``pool_size`` connections stay
    alive, one for every parallel worker.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies = {} if is_loopback(host) else requests.utils.get_environ_proxies(base_url)
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = _WatchedAdapter(pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(headers)
    return session


def transport_error(exc: Exception, base_url: str, *, timed_out: bool, timeout: float) -> StripeError:
    """What a send that raised ``exc`` means: a setting to fix, or a failure a retry may fix."""
    if isinstance(exc, _UNSENDABLE):  # the request cannot be built: settings, not the network
        return StripeConfigurationError(
            f"The request to {base_url} cannot be sent ({type(exc).__name__}): check the "
            "connection's API base URL, proxy settings, stripe_version and stripe_account."
        )
    if timed_out or isinstance(exc, requests.Timeout):
        return StripeConnectionError(
            f"No whole answer from {base_url} within the timeout of {timeout:g}s", should_retry=True
        )
    if isinstance(exc, requests.exceptions.SSLError):  # a certificate problem: retrying cannot help
        return StripeConnectionError(f"TLS with {base_url} failed: {exc}")
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return StripeConnectionError(
            f"Could not reach {base_url}: {str(reason).split('): ', 1)[-1]}", should_retry=True
        )
    if isinstance(exc, _DROPPED):
        return StripeConnectionError(
            f"The connection to {base_url} failed or was cut off: {exc}", should_retry=True
        )
    return StripeConnectionError(f"Request to {base_url} failed: {type(exc).__name__}: {exc}")
