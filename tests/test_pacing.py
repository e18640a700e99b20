"""Adaptive pacing: a 429 slows what its reason names; clients climb back; defaults come from the key.

Throughput under a shared limit (four processes on one account) is measured in
``benchmarks/``; here each rule is checked on its own, and against the test
server's limits.
"""

from __future__ import annotations

import logging
import threading

import pytest

from airflow_provider_stripe import pacing
from airflow_provider_stripe.client import StripeClient, endpoint_name
from airflow_provider_stripe.exceptions import StripeRateLimitError
from airflow_provider_stripe.hooks.stripe import StripeHook
from airflow_provider_stripe.pacing import AdaptivePacer, Rate
from tests.conftest import conn_json
from tests.stripe_server import DEFAULT_KEY, FakeStripe, fake_key


def test_a_rate_halves_on_a_429_once_per_round_trip_and_climbs_back():
    rate = Rate("customers", 20, 20)
    assert rate.reserve(100.0) == 100.0 and rate.reserve(100.0) == pytest.approx(100.05)
    assert rate.cut(sent=100.0, now=100.2) and rate.rate == 10
    assert not rate.cut(sent=100.1, now=100.3)  # sent before the cut: the same congestion
    assert rate.cut(sent=100.25, now=100.5) and rate.rate == 5
    rate.reserve(110.5)  # ten seconds on: +2 % of the ceiling per second
    assert rate.rate == pytest.approx(5 + 10 * 0.02 * 20)
    rate.reserve(200.0)
    assert rate.rate == 20  # never above the ceiling
    for _ in range(20):
        rate.cut(sent=1e9, now=1e9)
    assert rate.rate == pacing.MIN_RATE


def test_each_reason_slows_what_it_names(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_stripe.pacing")
    pacer = AdaptivePacer(40)
    sent = pacer.acquire("customers")
    pacer.release("customers", sent)
    approx = pytest.approx  # rates climb back a little between two lines
    assert (pacer.overall.rate, pacer.endpoints["customers"].rate) == approx(
        (40, 22), abs=0.1
    )  # 22: endpoints
    pacer.release("customers", pacer.acquire("customers"), limited="endpoint-rate")
    assert (pacer.overall.rate, pacer.endpoints["customers"].rate) == approx((40, 11), abs=0.3)
    pacer.release("invoices", pacer.acquire("invoices"), limited="global-rate")
    assert (pacer.overall.rate, pacer.endpoints["invoices"].rate) == approx((20, 22), abs=0.3)
    pacer.release("invoices", pacer.acquire("invoices"), limited="")  # no reason: the overall limit
    assert pacer.overall.rate == approx(10, abs=0.1)
    pacer.release("charges", pacer.acquire("charges"), limited="resource-specific")  # a lock: no cut
    assert pacer.overall.rate == approx(10, abs=0.1) and pacer.endpoints["charges"].rate == approx(
        22, abs=0.3
    )
    held = [pacer.acquire("charges") for _ in range(6)]
    pacer.release("charges", held.pop(), limited="global-concurrency")
    assert pacer.in_flight.limit == 2.5  # half of the 5 still in flight
    for sent in held:
        pacer.release("charges", sent)
    pacer.release("x/search", pacer.acquire("x/search", search=True), search=True, limited="endpoint-rate")
    assert (pacer.search.rate, pacer.overall.rate) == approx((9, 10), abs=1)  # halved, then climbing
    assert pacer.slowdowns == {"endpoint-rate": 2, "global-rate": 2, "global-concurrency": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("Stripe answered 429 (endpoint-rate): slowing customers to 11.0") for m in messages
    )
    assert "Stripe answered 429 (global-concurrency): slowing at most 2 requests in flight." in messages
    assert "slowed for 2× endpoint-rate, 2× global-rate, 1× global-concurrency" in pacer.summary()


def test_the_in_flight_limit_holds_requests_back_and_grows_again():
    pacer = AdaptivePacer(None)
    first = [pacer.acquire("customers") for _ in range(4)]
    pacer.release("customers", first.pop(), limited="global-concurrency")
    assert pacer.in_flight.limit == 1.5  # half of the 3 still in flight
    waiting = threading.Thread(target=pacer.acquire, args=("customers",))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()  # 3 in flight, a limit of 1
    for sent in first:
        pacer.release("customers", sent)
    waiting.join(2)
    assert not waiting.is_alive()
    assert pacer.in_flight.limit > 1.5  # each success adds 1/limit


@pytest.mark.parametrize(
    ("key", "configured", "overall", "search"),
    [
        (fake_key("sk_live"), None, 90, 18),
        (DEFAULT_KEY, None, 22, 18),
        (DEFAULT_KEY, 5, 5, 5),
        (DEFAULT_KEY, 100, 100, 18),
        (DEFAULT_KEY, 0, None, 18),  # 0: no overall pacing; search keeps Stripe's limit
    ],
)
def test_starting_rates_come_from_the_key_unless_configured(key, configured, overall, search):
    client = StripeClient(key, base_url="http://127.0.0.1:9", max_requests_per_second=configured)
    assert (client.pacer.overall.rate if client.pacer.overall else None) == overall
    assert client.pacer.search.rate == search and client.pacer.search.ceiling <= 20


def test_endpoints_leave_ids_out():
    assert endpoint_name("customers") == "customers"
    assert endpoint_name("customers/cus_1") == "customers/{id}"
    assert endpoint_name("invoices/in_1/lines") == "invoices/{id}/lines"
    assert endpoint_name("checkout/sessions/cs_1") == "checkout/sessions/{id}"
    assert endpoint_name("charges/search") == "charges/search"


def test_a_client_over_the_accounts_limit_slows_down_and_loses_nothing(stripe_server: FakeStripe, caplog):
    """Configured at 60/s against 25/s: the 429s name global-rate, the client halves and settles."""
    caplog.set_level(logging.WARNING)
    customers = stripe_server.seed(3000)
    stripe_server.rate_limit = 25
    stripe_server.latency = 0.02
    client = StripeClient(
        DEFAULT_KEY, base_url=stripe_server.url, max_requests_per_second=60, max_retry_wait=60
    )
    with client.iterate("customers", {}, page_size=20, parallelism=4) as records:
        ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(c["id"] for c in customers)
    assert stripe_server.limited_by["global-rate"] >= 1
    assert client.pacer.slowdowns.get("global-rate", 0) >= 1
    assert client.pacer.overall.rate < 60
    assert "; pacing " in records.summary() and "global-rate" in records.summary()  # the progress line
    assert any(
        "Stripe answered 429 (global-rate): slowing all requests" in r.getMessage() for r in caplog.records
    )
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert all("reason=global-rate" in r.getMessage() for r in retried)


def test_an_endpoint_limit_slows_only_that_endpoint(stripe_server: FakeStripe):
    stripe_server.seed(400)
    stripe_server.endpoint_rate_limit = 8
    client = StripeClient(
        DEFAULT_KEY, base_url=stripe_server.url, max_requests_per_second=30, max_retry_wait=60
    )
    with client.iterate("customers", {}, page_size=10, parallelism=3) as records:
        assert len(list(records)) == 400
    assert stripe_server.limited_by == {"endpoint-rate": stripe_server.limited_by["endpoint-rate"]}
    assert client.pacer.endpoints["customers"].rate < 22 and client.pacer.overall.rate == 30


def test_a_hook_without_a_configured_rate_starts_from_the_key(stripe_server: FakeStripe, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url))
    assert StripeHook().get_conn().pacer.overall.rate == 22
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=7))
    assert StripeHook().get_conn().pacer.overall.rate == 7


def test_a_rate_limit_error_names_its_reason(stripe_server: FakeStripe):
    stripe_server.rate_limit = 1
    client = StripeClient(DEFAULT_KEY, base_url=stripe_server.url, max_requests_per_second=0, max_retries=0)
    client.request("customers", {"limit": 1}, expect="list")
    with pytest.raises(StripeRateLimitError) as raised:
        client.request("customers", {"limit": 1}, expect="list")
    assert raised.value.rate_limited_reason == "global-rate"
    assert "reason=global-rate" in str(raised.value)
