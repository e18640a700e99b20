"""Retries, backoff, pacing and error classes under injected faults."""

from __future__ import annotations

import logging
import time

import pytest

from airflow_provider_stripe.api import pacing
from airflow_provider_stripe.api.pacing import AdaptivePacer
from airflow_provider_stripe.exceptions import (
    StripeAPIError,
    StripeAuthenticationError,
    StripeConnectionError,
    StripeInvalidRequestError,
    StripeNotFoundError,
    StripePermissionError,
    StripeRateLimitError,
)
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json
from tests.stripe_server import FakeStripe, Fault

CLIENT_LOG = "airflow_provider_stripe.api.retries"


def statuses(server: FakeStripe):
    return [r.get("status") for r in server.requests]


def test_429_is_retried_with_warning_carrying_status_attempt_wait_and_request_id(
    stripe_conn: FakeStripe, caplog
):
    stripe_conn.seed(3)
    stripe_conn.faults.extend([Fault(status=429), Fault(status=429)])
    with caplog.at_level(logging.WARNING, logger=CLIENT_LOG):
        page = StripeHook().list_customers()
    assert len(page["data"]) == 3
    assert statuses(stripe_conn) == [429, 429, 200]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "status 429, attempt 1 of 6" in warnings[0] and "attempt 2 of 6" in warnings[1]
    assert "retrying in" in warnings[0]
    assert stripe_conn.requests[0]["request_id"] in warnings[0]


def test_retry_after_is_honoured(stripe_conn: FakeStripe, caplog):
    stripe_conn.seed(1)
    stripe_conn.faults.append(Fault(status=429, headers={"Retry-After": "0.7"}))
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=CLIENT_LOG):
        StripeHook().list_customers()
    assert time.monotonic() - start >= 0.7
    assert "retrying in 0.70s" in caplog.text


def test_should_retry_false_stops_at_once(stripe_conn: FakeStripe):
    stripe_conn.faults.append(Fault(status=500, headers={"Stripe-Should-Retry": "false"}))
    with pytest.raises(StripeAPIError) as info:
        StripeHook().list_customers()
    assert info.value.http_status == 500 and len(stripe_conn.requests) == 1


def test_should_retry_true_retries_an_otherwise_final_status(stripe_conn: FakeStripe):
    stripe_conn.seed(1)
    stripe_conn.faults.append(Fault(status=423, headers={"Stripe-Should-Retry": "true"}))
    assert len(StripeHook().list_customers()["data"]) == 1
    assert statuses(stripe_conn) == [423, 200]


@pytest.mark.parametrize("status", [409, 500, 502, 503, 504])
def test_conflict_and_server_errors_are_retried(stripe_conn: FakeStripe, status):
    stripe_conn.seed(1)
    stripe_conn.faults.append(Fault(status=status))
    assert len(StripeHook().list_customers()["data"]) == 1
    assert statuses(stripe_conn) == [status, 200]


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, StripeInvalidRequestError),
        (401, StripeAuthenticationError),
        (402, StripeAPIError),
        (403, StripePermissionError),
        (404, StripeNotFoundError),
    ],
)
def test_client_errors_are_never_retried_even_when_told_to(stripe_conn: FakeStripe, status, cls):
    stripe_conn.faults.append(Fault(status=status, headers={"Stripe-Should-Retry": "true"}))
    with pytest.raises(cls) as info:
        StripeHook().list_customers()
    assert info.value.http_status == status
    assert len(stripe_conn.requests) == 1


def test_401_is_tried_once(stripe_conn: FakeStripe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_conn.url, key="sk_test_wrongkey12345"))
    with pytest.raises(StripeAuthenticationError, match="401"):
        StripeHook().list_customers()
    assert len(stripe_conn.requests) == 1


def test_dropped_connection_is_retried(stripe_conn: FakeStripe):
    stripe_conn.seed(2)
    stripe_conn.faults.append(Fault(drop=True))
    assert len(StripeHook().list_customers()["data"]) == 2
    assert statuses(stripe_conn) == ["dropped", 200]


def test_read_timeout_is_retried(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(2)
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, timeout=0.3))
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    stripe_server.faults.append(Fault(delay=1.0))
    assert len(StripeHook().list_customers()["data"]) == 2
    assert len(stripe_server.requests) == 2


def test_slow_responses_within_timeout_succeed(stripe_conn: FakeStripe):
    stripe_conn.seed(2)
    stripe_conn.faults.append(Fault(delay=0.3))
    assert len(StripeHook().list_customers()["data"]) == 2
    assert len(stripe_conn.requests) == 1


def test_permanent_5xx_fails_within_the_attempt_bound(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_retries=3))
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    stripe_server.fault_rate, stripe_server.random_faults = 1.0, [Fault(status=503)]
    with pytest.raises(StripeAPIError) as info:
        StripeHook().list_customers()
    assert info.value.http_status == 503 and info.value.error_type == "api_error"
    assert len(stripe_server.requests) == 4


def test_total_retry_wait_is_bounded(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_retries=100, max_retry_wait=1.5)
    )
    # A backoff below Retry-After, so each wait is the header's (a header never shortens a backoff).
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    stripe_server.fault_rate, stripe_server.random_faults = (
        1.0,
        [Fault(status=429, headers={"Retry-After": "0.4"})],
    )
    start = time.monotonic()
    with pytest.raises(StripeRateLimitError) as info:
        StripeHook().list_customers()
    elapsed = time.monotonic() - start
    assert len(stripe_server.requests) == 4  # waits 0.4 + 0.4 + 0.4; a fourth would pass 1.5 s
    assert 1.15 <= elapsed < 3.0
    assert (
        info.value.code == "rate_limit" and info.value.request_id == stripe_server.requests[-1]["request_id"]
    )


def test_connection_refused_raises_connection_error_after_retries(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json("http://127.0.0.1:9", max_retries=2))
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    with pytest.raises(StripeConnectionError, match=r"Could not reach http://127\.0\.0\.1:9"):
        StripeHook().list_customers()


def test_full_pagination_exactly_once_under_heavy_faults(stripe_conn: FakeStripe):
    customers = stripe_conn.seed(3000)
    stripe_conn.fault_rate = 0.4
    stripe_conn.random_faults = [
        Fault(status=429),
        Fault(status=429),
        Fault(status=429, headers={"Retry-After": "0"}),
        Fault(status=500),
        Fault(status=503),
        Fault(drop=True),
    ]
    iterator = StripeHook(max_retries=10).iter_customers(page_size=100)
    got = [c["id"] for c in iterator]
    assert got == [c["id"] for c in customers]
    failures = [s for s in statuses(stripe_conn) if s != 200]
    assert len(failures) >= 8  # the faults really happened
    assert iterator.client.stats.retries == len(failures)


def test_pacing_keeps_a_rate_limited_server_from_answering_429(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(10)
    stripe_server.rate_limit = 10
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=8, max_retries=0)
    )
    hook = StripeHook()
    start = time.monotonic()
    for _ in range(30):
        hook.list_customers(limit=1)
    assert stripe_server.rate_limited == 0
    assert time.monotonic() - start >= 29 / 8 - 0.05
    # Without pacing the same server does answer 429, so the test can fail.
    unpaced = StripeHook(max_requests_per_second=0, max_retries=0)

    def burst():
        for _ in range(30):
            unpaced.list_customers(limit=1)

    with pytest.raises(StripeRateLimitError):
        burst()


def test_pacer_is_shared_by_threads():
    from concurrent.futures import ThreadPoolExecutor

    pacer = AdaptivePacer(50)
    pacer.endpoints["customers"] = pacing.Rate("customers", 50, 50)  # not the 22/s endpoint default
    stamps: list[float] = []

    def take(_):
        sent = pacer.acquire("customers")
        stamps.append(sent)
        pacer.release("customers", sent)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(take, range(60)))
    stamps.sort()
    for i in range(len(stamps) - 50):
        assert stamps[i + 50] - stamps[i] >= 0.98  # never more than 50 in any second
    assert stamps[-1] - stamps[0] >= 59 / 50 - 0.02
