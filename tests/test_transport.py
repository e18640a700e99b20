"""The transport under attack: watchdog races, proxies (HTTP CONNECT, SOCKS), redirects, hostile answers."""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from airflow_provider_stripe.api.client import StripeClient
from airflow_provider_stripe.exceptions import (
    AirflowFailException,
    StripeAPIError,
    StripeConfigurationError,
    StripeConnectionError,
    StripeError,
    StripeParameterError,
    StripeRequestError,
    StripeResponseError,
)
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json
from tests.stripe_server import DEFAULT_KEY, FakeStripe, Fault, fake_key

LIVE_KEY = fake_key()


@contextlib.contextmanager
def tcp_server(handle: Callable[[socket.socket], None], host: str = "127.0.0.1") -> Iterator[int]:
    """A loopback TCP server that runs ``handle`` for each connection, in its own thread."""
    listener = socket.socket()
    listener.bind((host, 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=_guarded, args=(handle, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _guarded(handle: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with contextlib.suppress(OSError), conn:
        handle(conn)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := a.recv(65536):
            b.sendall(data)
    for side in (a, b):
        with contextlib.suppress(OSError):
            side.shutdown(socket.SHUT_RDWR)


def client_for(url: str, **settings) -> StripeClient:
    settings = {"max_retries": 0, "max_requests_per_second": 0, **settings}
    return StripeClient(settings.pop("key", DEFAULT_KEY), base_url=url, **settings)


# -- the watchdog never cuts a request it does not watch ------------------------------------------


def test_no_request_is_cut_by_another_requests_deadline():
    """Answers land around the deadline, on shared keep-alive connections: only own timeouts fail."""
    server = FakeStripe().start()
    try:
        server.seed(2)
        server.log_requests = False
        timeout = 0.1
        server.fault_rate = 1.0
        server.random_faults = [Fault(delay=timeout + jitter / 1000) for jitter in range(-10, 11)]
        client = client_for(server.url, timeout=timeout)
        outcomes: collections.Counter[str] = collections.Counter()
        stop = time.monotonic() + 4

        def worker() -> None:
            while time.monotonic() < stop:
                started = time.monotonic()
                try:
                    client.request("customers", {"limit": 1}, expect="list")
                    outcomes["ok"] += 1
                except StripeConnectionError as exc:
                    early = time.monotonic() - started < timeout * 0.9
                    outcomes[
                        "own timeout" if "within the timeout" in str(exc) and not early else str(exc)
                    ] += 1

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes["ok"] > 50 and outcomes["own timeout"] > 50, outcomes  # both sides were exercised
        assert set(outcomes) == {"ok", "own timeout"}, outcomes
    finally:
        server.stop()


# -- proxies ------------------------------------------------------------------------------------


def test_the_timeout_bounds_a_proxy_tunnel_that_trickles(monkeypatch):
    def trickling_proxy(conn: socket.socket) -> None:
        conn.recv(65536)  # CONNECT api.stripe.com:443
        for byte in b"HTTP/1.1 200 Connection established\r\n" * 100:
            conn.sendall(bytes([byte]))
            time.sleep(0.1)

    with tcp_server(trickling_proxy) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        client = client_for("https://api.stripe.com", timeout=1)
        started = time.monotonic()
        with pytest.raises(StripeConnectionError, match="within the timeout"):
            client.request("customers", {"limit": 1})
        assert time.monotonic() - started < 2.5


def test_requests_go_through_a_socks_proxy(stripe_server: FakeStripe, monkeypatch):
    customers = stripe_server.seed(2)
    upstream = stripe_server.server_address[1]

    def socks5(conn: socket.socket) -> None:  # no auth; every destination is the fake Stripe
        conn.recv(262)
        conn.sendall(b"\x05\x00")
        header = conn.recv(4)
        conn.recv(conn.recv(1)[0] if header[3] == 3 else (4 if header[3] == 1 else 16))
        conn.recv(2)
        target = socket.create_connection(("127.0.0.1", upstream))
        conn.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", upstream))
        threading.Thread(target=_pipe, args=(conn, target), daemon=True).start()
        _pipe(target, conn)

    with tcp_server(socks5) as port:
        monkeypatch.setenv("ALL_PROXY", f"socks5h://127.0.0.1:{port}")
        client = client_for("http://stripe-gateway.internal")  # resolved by the proxy (socks5h), never here
        assert client.request("customers", {"limit": 10}, expect="list")["data"] == customers


# -- redirects and requests that cannot be sent ------------------------------------------------


def test_redirects_are_not_followed(stripe_server: FakeStripe, monkeypatch):
    elsewhere = FakeStripe().start()
    try:
        elsewhere.api_keys.add(DEFAULT_KEY)
        stripe_server.faults.append(Fault(status=302, headers={"Location": f"{elsewhere.url}/v1/customers"}))
        monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_retries=3))
        with pytest.raises(StripeRequestError) as info:
            StripeHook().list_customers()
        assert info.value.http_status == 302 and isinstance(info.value, AirflowFailException)
        assert elsewhere.requests == [] and len(stripe_server.requests) == 1
    finally:
        elsewhere.stop()


@pytest.mark.parametrize(
    "settings",
    [
        {"stripe_version": "2024-06-20\r\nX-Injected: 1"},
        {"stripe_version": "2024-06-20 "},
        {"stripe_version": "☃"},
        {"stripe_account": "acct_☃"},
        {"stripe_account": "acct_1\nX: y"},
    ],
)
def test_header_settings_outside_their_form_fail_before_any_request(stripe_conn: FakeStripe, settings):
    with pytest.raises(StripeError) as info:
        StripeHook(**settings).list_customers()
    assert isinstance(info.value, AirflowFailException)
    assert stripe_conn.requests == []


def test_names_under_localhost_are_not_trusted_as_loopback(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("http://billing.localhost:12111", key=LIVE_KEY)
    )
    with pytest.raises(StripeConfigurationError, match="plain http"):
        StripeHook().get_conn()
    assert client_for("http://localhost:1", key=LIVE_KEY).mode == "live"


def test_a_key_echoed_by_the_server_is_masked(monkeypatch):
    key = "sk_test_echoedsecret0123456789"

    def echoing(conn: socket.socket) -> None:
        conn.recv(65536)
        body = json.dumps({"error": {"type": "invalid_request_error", "message": f"Invalid API Key: {key}"}})
        conn.sendall(b"HTTP/1.1 401 No\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body.encode()))

    with tcp_server(echoing) as port:
        monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(f"http://127.0.0.1:{port}", key=key))
        with pytest.raises(StripeAPIError) as info:
            StripeHook().list_customers()
        ok, message = StripeHook().test_connection()
    assert not ok
    for text in (str(info.value), repr(info.value), message):
        assert key[8:] not in text
    assert "sk_test_****" in str(info.value)


# -- hostile answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [{"type": 1, "message": "x"}, {"code": ["x"], "message": "x"}, {"message": {"a": 1}}, {"param": 3}],
)
def test_error_bodies_with_odd_field_types_give_typed_errors(error):
    def handler(conn: socket.socket) -> None:
        conn.recv(65536)
        body = json.dumps({"error": error}).encode()
        conn.sendall(
            b"HTTP/1.1 400 Bad\r\nContent-Length: %d\r\nRequest-Id: req_odd\r\n\r\n" % len(body) + body
        )

    with tcp_server(handler) as port, pytest.raises(StripeAPIError) as info:
        client_for(f"http://127.0.0.1:{port}").request("customers")
    assert info.value.http_status == 400 and info.value.request_id == "req_odd"


@pytest.mark.parametrize("status", [200, 400, 500])
def test_deeply_nested_json_gives_a_typed_error(status):
    def handler(conn: socket.socket) -> None:
        conn.recv(65536)
        body = b"[" * 200_000
        head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n" % (status, len(body))
        conn.sendall(head + body)

    # Garbage left by earlier tests, collected while the decoder is deep in its recursion,
    # has its finalizer's warning reported there, where pytest cannot even repr it: collect first.
    gc.collect()
    with tcp_server(handler) as port, pytest.raises(StripeAPIError):
        client_for(f"http://127.0.0.1:{port}").request("customers")


def test_a_server_that_ignores_the_cursor_cannot_loop_forever(stripe_conn: FakeStripe):
    first = {}

    def same_first_page(body):
        first.setdefault("page", body)
        return first["page"]

    stripe_conn.seed(30)
    stripe_conn.fault_rate, stripe_conn.random_faults = 1.0, [Fault(transform=same_first_page)]
    with pytest.raises(StripeResponseError, match="repeats the cursor"):
        list(StripeHook().iter_customers(page_size=10))
    assert len(stripe_conn.requests) == 2


@pytest.mark.parametrize(
    "transform",
    [
        lambda body: {**body, "data": list(reversed(body["data"]))},  # oldest first
        lambda body: {**body, "data": [{**record, "created": 1} for record in body["data"]]},  # out of range
    ],
)
def test_parallel_pages_out_of_order_or_range_are_refused(stripe_conn: FakeStripe, transform):
    stripe_conn.seed(50, start=1_700_000_000, spacing=3)
    stripe_conn.faults.append(Fault(transform=transform))
    with pytest.raises(StripeResponseError, match=r"newest first|outside the created range"):
        list(StripeHook().iter_customers(parallelism=3, page_size=10, created={"gte": 1_600_000_000}))


# -- parallel iterations stop however they are abandoned -----------------------------------------


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("stripe-list-")]


def _no_workers_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _workers() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _workers()


def test_break_then_del_stops_workers_without_a_gc_pass(stripe_conn: FakeStripe):
    stripe_conn.seed(2000, spacing=5)
    stripe_conn.latency = 0.05
    gc.disable()
    try:
        iterator = StripeHook().iter_customers(parallelism=4, page_size=20)
        for _ in iterator:
            break
        del iterator
        assert _no_workers_within(1.0)
    finally:
        gc.enable()


def test_close_from_another_thread_ends_a_waiting_consumer(stripe_conn: FakeStripe):
    stripe_conn.seed(500, spacing=5)
    iterator = StripeHook().iter_customers(parallelism=3, page_size=10)
    next(iterator)
    stripe_conn.latency = 30.0  # the consumer now waits for pages that take 30 s
    seen: list[object] = []
    consumer = threading.Thread(target=lambda: seen.extend(iterator))
    consumer.start()
    time.sleep(0.3)
    iterator.close()
    consumer.join(2)
    assert not consumer.is_alive()
    assert _no_workers_within(1.0)


# -- output races --------------------------------------------------------------------------------


def test_a_concurrent_writer_to_the_same_path_fails_typed_and_writes_nothing_half(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_stripe.utils.output import write_records

    destination = ObjectStoragePath(f"file://{tmp_path}/customers.jsonl")

    def slow_records():
        yield {"id": "cus_slow"}
        # meanwhile a second writer to the same destination starts and finishes
        assert write_records(destination, [{"id": "cus_fast"}], output_format="jsonl") == 1
        yield {"id": "cus_slow_2"}

    with pytest.raises(StripeError, match="Another write"):
        write_records(destination, slow_records(), output_format="jsonl")
    assert (tmp_path / "customers.jsonl").read_text() == '{"id":"cus_fast"}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customers.jsonl"]


def test_a_directory_named_like_a_partial_is_left_alone(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_stripe.utils.output import write_records

    odd = tmp_path / ".customers.jsonl.0123456789abcdef0123456789abcdef.partial"
    odd.mkdir()
    destination = ObjectStoragePath(f"file://{tmp_path}/customers.jsonl")
    assert write_records(destination, [{"id": "cus_1"}], output_format="jsonl") == 1
    assert odd.is_dir()


def test_bad_header_settings_are_parameter_errors_in_the_client():
    with pytest.raises(StripeParameterError, match="stripe_version"):
        client_for("http://127.0.0.1:1", stripe_version="2024-06-20\n")


# -- connection tests and where a bad setting came from -----------------------------------------


def test_connection_test_is_one_short_attempt_against_a_silent_server(monkeypatch):
    accepted: list[int] = []

    def silent(conn: socket.socket) -> None:  # accepts, never answers (a firewall dropping traffic)
        accepted.append(1)
        time.sleep(5)

    monkeypatch.setattr("airflow_provider_stripe.hooks.stripe.TEST_TIMEOUT", 1.0)
    with tcp_server(silent) as port:
        monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(f"http://127.0.0.1:{port}"))
        started = time.monotonic()
        ok, message = StripeHook().test_connection()
        elapsed = time.monotonic() - started
    assert not ok and "within the timeout of 1s" in message
    assert elapsed < 3 and len(accepted) == 1


def test_connection_test_messages_leave_out_the_temporary_connection_id(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DXCSVPND", conn_json("http://127.0.0.1:1", key="pk_test_x"))
    ok, message = StripeHook("dxcsvpnd").test_connection()
    assert not ok and "publishable key" in message and "dxcsvpnd" not in message


def test_a_bad_task_setting_is_not_blamed_on_the_connection(stripe_conn: FakeStripe, monkeypatch):
    with pytest.raises(StripeConfigurationError) as info:
        StripeHook(max_requests_per_second=-1).get_conn()
    assert "a task or hook setting" in str(info.value) and "Connection 'stripe_default'" not in str(
        info.value
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_conn.url, max_requests_per_second="abc")
    )
    with pytest.raises(StripeConfigurationError) as info:
        StripeHook().get_conn()
    assert str(info.value).startswith(
        "Connection 'stripe_default': Invalid parameter 'max_requests_per_second'"
    )
