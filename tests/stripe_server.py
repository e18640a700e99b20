"""A Stripe-compatible HTTP server for tests, the demo and benchmarks.

Real HTTP/1.1 on 127.0.0.1 (ephemeral port by default) that serves
``GET /v1/customers`` and ``GET /v1/customers/{id}`` the way Stripe does:
newest first, both cursors, ``email``/``created``/``test_clock`` filters, limit
validation, ``expand[]``, deleted customers (200 ``{"deleted": true}``),
``POST /v1/customers[/{id}]`` and ``DELETE /v1/customers/{id}`` (form-encoded,
as Stripe takes them), each emitting its ``customer.created/updated/deleted``
event, ``GET /v1/events[/{id}]`` (``type`` with ``*``, ``types[]`` up to 20,
``created``, cursors, newest first, 30-day retention on the server's clock),
Stripe's error bodies with a ``Request-Id`` header, bearer and basic auth,
``Stripe-Account`` (Connect) and a per-second rate limit. Faults can be queued
or drawn at random (429 with or without ``Retry-After``/``Stripe-Should-Retry``,
5xx, dropped connections, latency), and every request is logged for assertions.

Run it by hand: ``python tests/stripe_server.py --customers 5000 --port 12111``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import contextlib
import copy
import fnmatch
import json
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_KEY = "sk_test_fakeserverkey"


def fake_key(prefix: str = "sk_live") -> str:
    """A random key with Stripe's prefix (``sk_live``, ``rk_live`` …), made at run time: the
    repository holds no string that looks like a real key."""
    return f"{prefix}_{secrets.token_hex(12)}"


PLATFORM_ACCOUNT = ""
API_VERSION = "2024-06-20"
#: Stripe keeps events this long (seconds).
EVENT_RETENTION = 30 * 86400
MAX_EVENT_TYPES = 20
#: Fields a customer update may change (form parameters of ``POST /v1/customers/{id}``).
UPDATABLE = ("email", "name", "description", "phone", "balance", "metadata", "address")

FIRST_NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Zoë",
    "José",
    "Chidi",
    "Mei",
    "Oskar",
    "Priya",
    "Søren",
    "Aiko",
    "Omar",
]
LAST_NAMES = ["Lovelace", "Hopper", "Okafor", "García", "Müller", "Nakamura", "Singh", "Dubois", "Kowalski"]
CITIES = [
    ("Berlin", "DE"),
    ("Lagos", "NG"),
    ("São Paulo", "BR"),
    ("Tokyo", "JP"),
    ("Austin", "US"),
    ("Paris", "FR"),
]


def make_customer(
    seq: int, created: int, *, livemode: bool = False, rng: random.Random | None = None, **overrides: Any
) -> dict[str, Any]:
    """A realistic customer object with every field of Stripe's schema."""
    rng = rng or random.Random(seq)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, country = rng.choice(CITIES)
    customer: dict[str, Any] = {
        "id": f"cus_{seq:08d}{secrets.token_hex(3)}",
        "object": "customer",
        "address": {
            "city": city,
            "country": country,
            "line1": f"{rng.randint(1, 999)} Main Street",
            "line2": None,
            "postal_code": f"{rng.randint(10000, 99999)}",
            "state": None,
        },
        "balance": rng.choice([0, 0, 0, -500, 1200]),
        "created": created,
        "currency": rng.choice([None, "usd", "eur"]),
        "default_currency": None,
        "default_source": None,
        "delinquent": rng.random() < 0.05,
        "description": rng.choice([None, "Imported from legacy CRM", "VIP ✨"]),
        "discount": None,
        "email": f"{first}.{last}.{seq}@example.com".lower(),
        "invoice_prefix": f"{seq:08X}"[-8:],
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": livemode,
        "metadata": {"crm_id": str(seq)} if seq % 3 == 0 else {},
        "name": f"{first} {last}",
        "next_invoice_sequence": 1,
        "phone": None if seq % 4 else f"+1555{seq % 10_000_000:07d}",
        "preferred_locales": ["en"],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    customer.update(overrides)
    return customer


@dataclass
class Fault:
    """One injected fault: an HTTP status (with optional headers), a dropped connection, or a delay.

    ``transform`` rewrites the body of a success (malformed answers); ``cut`` sends
    part of the body and closes the connection (``"length"``: short of its
    Content-Length; ``"chunked"``: mid-way through chunked encoding); ``trickle``
    sends the whole answer one byte every ``trickle`` seconds.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    code: str | None = None
    transform: Callable[[Any], Any] | None = None
    cut: str | None = None
    trickle: float = 0.0


class Store:
    """The customers and events of one account, kept oldest first so that appends stay cheap."""

    def __init__(self) -> None:
        self.customers: list[dict[str, Any]] = []
        self.keys: list[tuple[int, str]] = []  # (created, id), ascending
        self.index: dict[str, int] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        #: Events oldest first by (created, order of emission): within a second, list order is
        #: the only order Stripe gives, and it is the order the events were emitted in.
        self.events: list[dict[str, Any]] = []
        self.event_keys: list[tuple[int, int]] = []  # (created, sequence), ascending
        self.event_index: dict[str, int] = {}
        self.sequence = 0

    def add(self, customers: Iterable[dict[str, Any]]) -> None:
        new = sorted(customers, key=lambda c: (c["created"], c["id"]))
        if new and self.keys and (new[0]["created"], new[0]["id"]) < self.keys[-1]:
            merged = sorted([*self.customers, *new], key=lambda c: (c["created"], c["id"]))
            self.customers = merged
        else:
            self.customers.extend(new)
        self._reindex()

    def live(self, customer_id: str) -> dict[str, Any]:
        """A customer that exists (not deleted), or Stripe's 404."""
        if customer_id not in self.index:
            raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param="id")
        return self.customers[self.index[customer_id]]

    def replace(self, customer: dict[str, Any]) -> None:
        """Put a new version of a customer in the old one's place (same id and created)."""
        self.customers[self.index[customer["id"]]] = customer

    def delete(self, customer_id: str) -> None:
        position = self.index[customer_id]
        customer = self.customers[position]
        self.deleted[customer_id] = customer
        self.customers = [c for c in self.customers if c["id"] != customer_id]
        self._reindex()

    def _reindex(self) -> None:
        self.keys = [(c["created"], c["id"]) for c in self.customers]
        self.index = {c["id"]: i for i, c in enumerate(self.customers)}

    def add_event(self, event: dict[str, Any]) -> None:
        self.sequence += 1
        key = (event["created"], self.sequence)
        position = bisect.bisect(self.event_keys, key)
        self.event_keys.insert(position, key)
        self.events.insert(position, event)
        if position == len(self.events) - 1:
            self.event_index[event["id"]] = position
        else:
            self.event_index = {e["id"]: i for i, e in enumerate(self.events)}

    def newest_first(self) -> list[dict[str, Any]]:
        return list(reversed(self.customers))


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.headers = headers or {}


class FakeStripe(ThreadingHTTPServer):
    """The server. Configure through attributes; read ``requests`` for what was asked."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_keys: Iterable[str] = (DEFAULT_KEY,)):
        super().__init__((host, port), Handler)
        self.api_keys = set(api_keys)
        self.forbidden_keys: set[str] = set()
        self.accounts: dict[str, Store] = collections.defaultdict(Store)
        self.accounts[PLATFORM_ACCOUNT]  # the platform's own customers
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.faults: collections.deque[Fault] = collections.deque()
        self.fault_rate = 0.0
        self.random_faults: list[Fault] = []
        self.rng = random.Random(1234)
        self.latency = 0.0
        self.rate_limit: int | None = None
        self.log_requests = True
        self._window: collections.deque[float] = collections.deque()
        self.rate_limited = 0
        self._thread: threading.Thread | None = None
        #: The server's time (Unix seconds): when events happen and which ones are still kept.
        self.clock: Callable[[], float] = time.time
        self.api_version = API_VERSION

    # -- control ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="fake-stripe", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (a timeout, a closed iteration) is normal here."""
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def store(self, account: str = PLATFORM_ACCOUNT) -> Store:
        return self.accounts[account]

    def seed(
        self,
        count: int,
        *,
        start: int = 1_600_000_000,
        spacing: int = 60,
        account: str = PLATFORM_ACCOUNT,
        created: Iterable[int] | None = None,
        **overrides: Any,
    ) -> list[dict[str, Any]]:
        """Add ``count`` customers (``created`` evenly spaced unless given); return them newest first."""
        store = self.store(account)
        offset = len(store.customers) + len(store.deleted)
        times = list(created) if created is not None else [start + i * spacing for i in range(count)]
        rng = random.Random(offset + count)
        customers = [make_customer(offset + i, t, rng=rng, **overrides) for i, t in enumerate(times)]
        with self.lock:
            store.add(customers)
        return sorted(customers, key=lambda c: (c["created"], c["id"]), reverse=True)

    # -- mutations: each changes the account and emits its event, as Stripe does -----------
    def now(self) -> int:
        return int(self.clock())

    def emit(
        self,
        store: Store,
        type_: str,
        obj: dict[str, Any],
        *,
        at: int | None = None,
        previous: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Record the event ``type_`` for ``obj`` (a copy: later changes do not rewrite history)."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": self.api_version,
            "created": self.now() if at is None else at,
            "data": data,
            "livemode": bool(obj.get("livemode")),
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": None},
            "type": type_,
        }
        store.add_event(event)
        return event

    def create_customer(
        self,
        *,
        at: int | None = None,
        account: str = PLATFORM_ACCOUNT,
        request_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create a customer at ``at`` (default: now) and emit ``customer.created``."""
        store = self.store(account)
        at = self.now() if at is None else at
        with self.lock:
            seq = len(store.customers) + len(store.deleted)
            customer = make_customer(seq, at, rng=random.Random(seq), **fields)
            store.add([customer])
            self.emit(store, "customer.created", customer, at=at, request_id=request_id)
        return customer

    def update_customer(
        self,
        customer_id: str,
        *,
        at: int | None = None,
        account: str = PLATFORM_ACCOUNT,
        request_id: str | None = None,
        **changes: Any,
    ) -> dict[str, Any]:
        """Change fields (``metadata`` merges; a key set to ``""`` or None is removed) and emit
        ``customer.updated`` with ``previous_attributes``. Nothing changed: no event."""
        store = self.store(account)
        with self.lock:
            old = store.live(customer_id)
            new = copy.deepcopy(old)
            for name, value in changes.items():
                if name not in UPDATABLE:
                    raise StripeError(400, f"Received unknown parameter: {name}", param=name)
                if name == "metadata":
                    merged = {**new["metadata"], **value}
                    new["metadata"] = {k: v for k, v in merged.items() if v not in ("", None)}
                elif name == "address":
                    new["address"] = {**(new["address"] or {}), **value}
                else:
                    new[name] = value
            previous = {name: old[name] for name in changes if old[name] != new[name]}
            if not previous:
                return new
            store.replace(new)
            self.emit(store, "customer.updated", new, at=at, previous=previous, request_id=request_id)
        return new

    def delete_customer(
        self,
        customer_id: str,
        *,
        at: int | None = None,
        account: str = PLATFORM_ACCOUNT,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Delete a customer and emit ``customer.deleted`` (its last state as ``data.object``)."""
        store = self.store(account)
        with self.lock:
            customer = store.live(customer_id)
            store.delete(customer_id)
            self.emit(store, "customer.deleted", customer, at=at, request_id=request_id)
        return {"id": customer_id, "object": "customer", "deleted": True}

    def customers_now(self, account: str = PLATFORM_ACCOUNT) -> dict[str, dict[str, Any]]:
        """The account's current customers by id (deep copies), for comparing with a synced table."""
        with self.lock:
            return {c["id"]: copy.deepcopy(c) for c in self.store(account).customers}

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- behaviour --------------------------------------------------------------------------
    def next_fault(self) -> Fault | None:
        with self.lock:
            if self.faults:
                return self.faults.popleft()
            if self.fault_rate and self.random_faults and self.rng.random() < self.fault_rate:
                return self.rng.choice(self.random_faults)
        return None

    def over_rate_limit(self) -> bool:
        if not self.rate_limit:
            return False
        with self.lock:
            now = time.monotonic()
            while self._window and now - self._window[0] >= 1.0:
                self._window.popleft()
            if len(self._window) >= self.rate_limit:
                self.rate_limited += 1
                return True
            self._window.append(now)
            return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY a small body waits for the
    # client's delayed ACK (40 ms a request), as no real API server would make it wait.
    disable_nagle_algorithm = True
    server: FakeStripe

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.handle_method("GET")

    def do_POST(self) -> None:
        self.handle_method("POST")

    def do_DELETE(self) -> None:
        self.handle_method("DELETE")

    def handle_method(self, method: str) -> None:
        request_id = f"req_{secrets.token_hex(7)}"
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True) if length else []
        entry = {
            "method": method,
            "path": parts.path,
            "query": query,
            "raw_path": self.path,
            "headers": dict(self.headers.items()),
            "request_id": request_id,
            "time": time.monotonic(),
        }
        if self.server.log_requests:
            with self.server.lock:
                self.server.requests.append(entry)
        limited = self.server.over_rate_limit()  # counted on arrival, as Stripe does
        fault = self.server.next_fault()
        delay = self.server.latency + (fault.delay if fault else 0.0)
        if delay:
            time.sleep(delay)
        if fault and fault.drop:
            entry["status"] = "dropped"
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        try:
            if fault and fault.status:
                raise StripeError(
                    fault.status,
                    f"Injected fault {fault.status}",
                    type_="api_error" if fault.status >= 500 else "invalid_request_error",
                    code=fault.code or ("rate_limit" if fault.status == 429 else None),
                    headers=fault.headers,
                )
            if limited:
                raise StripeError(429, "Too many requests hit the API too quickly.", code="rate_limit")
            store = self.authenticate()
            if method == "GET":
                body = self.route(parts.path, query, store)
            else:
                body = self.mutate(method, parts.path, form, store, request_id)
            status, headers = 200, {}
            if fault and fault.transform:
                body = fault.transform(body)
        except StripeError as err:
            status, headers = err.status, err.headers
            error: dict[str, Any] = {
                "type": err.type,
                "message": err.message,
                "request_log_url": f"https://dashboard.stripe.com/logs/{request_id}",
            }
            if err.code:
                error["code"] = err.code
                error["doc_url"] = f"https://stripe.com/docs/error-codes/{err.code.replace('_', '-')}"
            if err.param:
                error["param"] = err.param
            body = {"error": error}
        entry["status"] = status
        payload = json.dumps(body).encode()
        if fault and (fault.cut or fault.trickle):
            self.send_faulty(fault, status, payload, request_id)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", request_id)
        if self.headers.get("Stripe-Version"):
            self.send_header("Stripe-Version", self.headers["Stripe-Version"])
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def send_faulty(self, fault: Fault, status: int, payload: bytes, request_id: str) -> None:
        """Send an answer that is cut off mid-body or trickles out byte by byte."""
        head = f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nRequest-Id: {request_id}\r\n"
        if fault.cut == "chunked":
            half = payload[: len(payload) // 2]
            raw = (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"%x\r\n" % len(half) + half
        elif fault.cut == "length":
            raw = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload[: len(payload) // 2]
        else:
            raw = (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        self.close_connection = True
        try:
            if fault.trickle:
                deadline = time.monotonic() + 30  # bounded: a trickle never outlives its test
                for byte in raw:
                    if time.monotonic() > deadline:
                        break
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(fault.trickle)
            else:
                self.wfile.write(raw)
                self.wfile.flush()
        except OSError:
            pass  # the client gave up, as it should
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def authenticate(self) -> Store:
        auth = self.headers.get("Authorization", "")
        key = ""
        if auth.startswith("Bearer "):
            key = auth[len("Bearer ") :]
        elif auth.startswith("Basic "):
            try:
                key = base64.b64decode(auth[len("Basic ") :]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        if not key:
            raise StripeError(401, "You did not provide an API key.")
        if key not in self.server.api_keys and key not in self.server.forbidden_keys:
            raise StripeError(
                401, f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:]}", code="api_key_invalid"
            )
        if key in self.server.forbidden_keys:
            raise StripeError(
                403,
                "The provided key does not have the required permissions for this "
                "endpoint. Having the 'rak_customer_read' permission would allow this request.",
                code="secret_key_required",
            )
        account = self.headers.get("Stripe-Account", PLATFORM_ACCOUNT)
        if account != PLATFORM_ACCOUNT and account not in self.server.accounts:
            raise StripeError(
                403,
                f"The provided key does not have access to account '{account}' "
                "(or that account does not exist).",
                type_="invalid_request_error",
                code="account_invalid",
            )
        return self.server.accounts[account]

    def route(self, path: str, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        if path == "/v1/customers":
            return self.list_customers(query, store)
        if path.startswith("/v1/customers/") and path.count("/") == 3:
            return self.get_customer(unquote(path[len("/v1/customers/") :]), query, store)
        if path == "/v1/events":
            return self.list_events(query, store)
        if path.startswith("/v1/events/") and path.count("/") == 3:
            return self.get_event(unquote(path[len("/v1/events/") :]), query, store)
        raise StripeError(404, f"Unrecognized request URL (GET: {path}).")

    def mutate(
        self, method: str, path: str, form: list[tuple[str, str]], store: Store, request_id: str
    ) -> dict[str, Any]:
        account = self.headers.get("Stripe-Account", PLATFORM_ACCOUNT)
        fields: dict[str, Any] = {}
        for key, value in form:
            outer, _, inner = key.partition("[")
            if inner:
                if outer not in ("metadata", "address") or not inner.endswith("]"):
                    raise StripeError(400, f"Received unknown parameter: {key}", param=key)
                fields.setdefault(outer, {})[inner[:-1]] = value
            elif outer == "balance":
                fields[outer] = self.integer(value, outer)
            elif outer in UPDATABLE:
                fields[outer] = value or None
            else:
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        server = self.server
        if method == "POST" and path == "/v1/customers":
            fields["metadata"] = {k: v for k, v in fields.get("metadata", {}).items() if v}
            if "address" in fields:
                blank = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
                fields["address"] = {**blank, **fields["address"]}
            return server.create_customer(account=account, request_id=request_id, **fields)
        if path.startswith("/v1/customers/") and path.count("/") == 3:
            customer_id = unquote(path[len("/v1/customers/") :])
            if method == "POST":
                return server.update_customer(customer_id, account=account, request_id=request_id, **fields)
            if method == "DELETE" and not fields:
                return server.delete_customer(customer_id, account=account, request_id=request_id)
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")

    def get_customer(self, customer_id: str, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        for key, _ in query:
            if key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        with self.server.lock:
            position = store.index.get(customer_id)
            if position is not None:
                return store.customers[position]
            if customer_id in store.deleted:
                return {"id": customer_id, "object": "customer", "deleted": True}
        raise StripeError(404, f"No such customer: '{customer_id}'", code="resource_missing", param="id")

    def list_customers(self, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        params, created = self.list_params(query, ("email", "test_clock"))
        email = params.get("email")
        if email is not None and len(email) > 512:
            raise StripeError(400, "Invalid string: too long (max 512).", param="email")
        test_clock = params.get("test_clock")

        def matches(customer: dict[str, Any]) -> bool:
            return (email is None or customer.get("email") == email) and (
                test_clock is None or customer.get("test_clock") == test_clock
            )

        with self.server.lock:
            return self.page(store.customers, store.keys, store.index, params, created, matches, "customer")

    def list_events(self, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        names = [value for key, value in query if key == "types[]"]
        query = [(key, value) for key, value in query if key != "types[]"]
        params, created = self.list_params(query, ("type", "delivery_success"))
        if names and "type" in params:
            raise StripeError(
                400, "You may only specify one of these parameters: type, types.", param="types"
            )
        if len(names) > MAX_EVENT_TYPES:
            raise StripeError(400, f"You may pass at most {MAX_EVENT_TYPES} values for types.", param="types")
        pattern = params.get("type")
        if params.get("delivery_success") not in (None, "true", "false"):
            raise StripeError(400, "Invalid boolean: delivery_success", param="delivery_success")
        delivered = params.get("delivery_success") != "false"  # every webhook here succeeds
        kept_from = self.server.now() - EVENT_RETENTION

        def matches(event: dict[str, Any]) -> bool:
            if event["created"] < kept_from or not delivered:
                return False
            if names:
                return event["type"] in names
            return pattern is None or fnmatch.fnmatchcase(event["type"], pattern)

        with self.server.lock:
            return self.page(
                store.events, store.event_keys, store.event_index, params, created, matches, "event"
            )

    def get_event(self, event_id: str, query: list[tuple[str, str]], store: Store) -> dict[str, Any]:
        for key, _ in query:
            if key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        with self.server.lock:
            position = store.event_index.get(event_id)
            if (
                position is not None
                and store.events[position]["created"] >= self.server.now() - EVENT_RETENTION
            ):
                return store.events[position]
        raise StripeError(404, f"No such event: '{event_id}'", code="resource_missing", param="id")

    def list_params(
        self, query: list[tuple[str, str]], filters: tuple[str, ...]
    ) -> tuple[dict[str, str], dict[str, int]]:
        """A list request's cursors, limit and ``filters``, and its ``created`` bounds, validated."""
        params: dict[str, str] = {}
        created: dict[str, int] = {}
        for key, value in query:
            if key.startswith("created[") and key.endswith("]"):
                op = key[len("created[") : -1]
                if op not in ("gt", "gte", "lt", "lte"):
                    raise StripeError(400, f"Received unknown parameter: {key}", param=key)
                created[op] = self.integer(value, key)
            elif key == "created":
                created["eq"] = self.integer(value, key)
            elif key in ("limit", "starting_after", "ending_before", *filters):
                params[key] = value
            elif key != "expand[]":
                raise StripeError(400, f"Received unknown parameter: {key}", param=key)
        limit = self.integer(params.get("limit", "10"), "limit")
        if not 1 <= limit <= 100:
            raise StripeError(
                400, f"This value must be between 1 and 100 (it currently is {limit}).", param="limit"
            )
        if params.get("starting_after") and params.get("ending_before"):
            raise StripeError(
                400,
                "You may only specify one of these parameters: ending_before, starting_after.",
                param="ending_before",
            )
        return params, created

    @staticmethod
    def page(
        items: list[dict[str, Any]],
        keys: list[tuple[int, Any]],
        index: dict[str, int],
        params: dict[str, str],
        created: dict[str, int],
        matches: Callable[[dict[str, Any]], bool],
        what: str,
    ) -> dict[str, Any]:
        """One page of ``items`` (oldest first, ``keys[i][0]`` their created), newest first."""
        limit = int(params.get("limit", "10"))
        lower = max(created.get("gte", 0), created.get("gt", -1) + 1, created.get("eq", 0))
        upper = min(
            created.get("lt", 2**53),
            created.get("lte", 2**53) + 1,
            created["eq"] + 1 if "eq" in created else 2**53,
        )
        # Indices of the created range in the ascending list: [lo, hi).
        lo = bisect.bisect_left(keys, lower, key=lambda k: k[0])
        hi = bisect.bisect_left(keys, upper, key=lambda k: k[0])
        page: list[dict[str, Any]] = []
        has_more = False
        cursor = params.get("starting_after") or params.get("ending_before")
        if cursor is not None and cursor not in index:
            which = "starting_after" if params.get("starting_after") else "ending_before"
            raise StripeError(400, f"No such {what}: '{cursor}'", code="resource_missing", param=which)
        if params.get("ending_before"):
            # Objects newer than the cursor, the oldest `limit` of them, shown newest first.
            i = max(index[params["ending_before"]] + 1, lo)
            while i < hi:
                if matches(items[i]):
                    if len(page) == limit:
                        has_more = True
                        break
                    page.append(items[i])
                i += 1
            page.reverse()
        else:
            i = hi - 1
            if params.get("starting_after"):
                i = min(i, index[params["starting_after"]] - 1)
            while i >= lo:
                if matches(items[i]):
                    if len(page) == limit:
                        has_more = True
                        break
                    page.append(items[i])
                i -= 1
        return {"object": "list", "data": page, "has_more": has_more, "url": f"/v1/{what}s"}

    @staticmethod
    def integer(value: str, param: str) -> int:
        try:
            return int(value)
        except ValueError:
            raise StripeError(400, f"Invalid integer: {value}", param=param) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--key", default=DEFAULT_KEY)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    parser.add_argument("--days", type=int, default=30, help="spread created over the last N days")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this test server only listens on loopback")
    server = FakeStripe(args.host, args.port, api_keys=[args.key])
    server.latency, server.rate_limit, server.log_requests = args.latency, args.rate_limit, False
    now = int(time.time())
    rng = random.Random(42)
    span = args.days * 86400
    server.seed(args.customers, created=sorted(now - rng.randrange(span) for _ in range(args.customers)))
    print(server.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
