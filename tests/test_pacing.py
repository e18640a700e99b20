"""Adaptive pacing: a 429 slows what its reason names; clients climb back; defaults come from the key.

Throughput under a shared limit (four processes on one account) is measured in
``benchmarks/``; here each rule is checked on its own, and against the test
server's limits.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from airflow_provider_stripe.api import pacing
from airflow_provider_stripe.api.client import StripeClient
from airflow_provider_stripe.api.encoding import endpoint_name
from airflow_provider_stripe.api.pacing import AdaptivePacer, Rate
from airflow_provider_stripe.exceptions import StripeRateLimitError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json
from tests.stripe_server import DEFAULT_KEY, FakeStripe, Limit, fake_key


def climbed(ceiling: float, since: float, until: float) -> float:
    """What a rate gains from ``since`` to ``until`` seconds after its last 429 (or its start)."""
    t = pacing.ACCELERATION_SECONDS
    return pacing.INCREASE * ceiling * (until - since + t * ((until / t) ** 3 - (since / t) ** 3) / 3)


def test_a_rate_is_cut_once_per_round_trip_and_climbs_back_faster_the_longer_no_429_came():
    rate = Rate("customers", 20, 20, now=100.0)
    assert rate.reserve(100.0) == 100.0 and rate.reserve(100.0) == pytest.approx(100.05)
    assert rate.cut(sent=100.0, now=100.2) and rate.rate == pytest.approx(20 * pacing.DECREASE)
    assert not rate.cut(sent=100.1, now=100.3)  # sent before the cut: the same congestion
    assert rate.cut(sent=100.25, now=100.5)  # what it climbed in the 0.3 s since is cut too
    assert rate.rate == pytest.approx((20 * pacing.DECREASE + climbed(20, 0, 0.3)) * pacing.DECREASE)
    low = rate.rate
    rate.reserve(101.5)  # the first second after the cut
    first = rate.rate - low
    assert first == pytest.approx(climbed(20, 0, 1)) and first == pytest.approx(
        pacing.INCREASE * 20, rel=0.01
    )
    before = rate.rate
    rate.reserve(130.5)  # half a minute without a 429
    rate_then = rate.rate
    assert rate_then - before == pytest.approx(climbed(20, 1, 30))
    rate.reserve(131.5)
    assert rate.rate - rate_then > 3 * first  # each second adds more than the last
    rate.reserve(200.0)
    assert rate.rate == 20  # never above the ceiling
    for _ in range(80):
        rate.cut(sent=1e9, now=1e9)
    assert rate.rate == pacing.MIN_RATE


def test_slow_start_doubles_a_rate_until_its_first_429_which_sends_it_back_to_its_start():
    rate = Rate("all requests", 5.5, 22, slow_start=True, now=0.0)
    rate.reserve(1.0)
    assert rate.rate == pytest.approx(5.5 * 2 ** (1 / pacing.SLOW_START_SECONDS))
    rate.reserve(30.0)
    assert rate.rate == 22  # the ceiling

    rate = Rate("all requests", 5.5, 22, slow_start=True, now=0.0)
    rate.reserve(2.0)
    assert rate.rate == pytest.approx(11)
    assert rate.cut(sent=2.0, now=2.2) and rate.rate == 5.5  # whenever its first 429 comes
    assert not rate.cut(sent=2.5, now=2.7)  # sent in the second after: the start's congestion still
    assert rate.rate == 5.5
    rate.reserve(3.2)  # one second later: additive now
    assert rate.rate - 5.5 == pytest.approx(climbed(22, 0, 1))
    assert rate.cut(sent=3.2, now=3.4)  # later 429s: the small cut
    assert rate.rate == pytest.approx((5.5 + climbed(22, 0, 1.2)) * pacing.DECREASE)

    configured = Rate("all requests", 22, 22, slow_start=True, now=0.0)  # at its ceiling: nothing to probe
    assert configured.cut(sent=1.0, now=1.2) and configured.rate == pytest.approx(22 * pacing.DECREASE)

    climbed_alone = Rate("all requests", 5.5, 22, slow_start=True, now=0.0)
    climbed_alone.reserve(10.0)  # at the ceiling with no 429: a later one is others' load, the small cut
    assert climbed_alone.cut(sent=10.0, now=10.2) and climbed_alone.rate == pytest.approx(
        22 * pacing.DECREASE
    )

    idle = Rate("customers/{id}", 22, 90, slow_start=True, now=0.0)
    idle.reserve(1.0)
    idle.reserve(7200.0)  # an endpoint unused for two hours: at its ceiling, no overflow
    assert idle.rate == 90


def test_each_reason_slows_what_it_names(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_stripe.api.pacing")
    pacer = AdaptivePacer(22)  # endpoints start at 22 too: at their ceiling, no slow start to time
    sent = pacer.acquire("customers")
    pacer.release("customers", sent)
    approx = pytest.approx  # rates climb back a little between two lines
    assert (pacer.overall.rate, pacer.endpoints["customers"].rate) == approx((22, 22), abs=0.1)
    cut = pacing.DECREASE
    pacer.release("customers", pacer.acquire("customers"), limited="endpoint-rate")
    assert (pacer.overall.rate, pacer.endpoints["customers"].rate) == approx((22, 22 * cut), abs=0.1)
    pacer.release("invoices", pacer.acquire("invoices"), limited="global-rate")
    assert (pacer.overall.rate, pacer.endpoints["invoices"].rate) == approx((22 * cut, 22), abs=0.1)
    pacer.release("invoices", pacer.acquire("invoices"), limited="")  # no reason: the overall limit
    assert pacer.overall.rate == approx(22 * cut**2, abs=0.1)
    pacer.release("charges", pacer.acquire("charges"), limited="resource-specific")  # a lock: no cut
    assert (pacer.overall.rate, pacer.endpoints["charges"].rate) == approx((22 * cut**2, 22), abs=0.1)
    held = [pacer.acquire("charges") for _ in range(6)]
    pacer.release("charges", held.pop(), limited="global-concurrency")
    assert pacer.in_flight.limit == 2.5  # half of the 5 still in flight
    for sent in held:
        pacer.release("charges", sent)
    pacer.release("x/search", pacer.acquire("x/search", search=True), search=True, limited="endpoint-rate")
    assert (pacer.search.rate, pacer.overall.rate) == approx((18 * cut, 22 * cut**2), abs=0.1)
    assert pacer.slowdowns == {"endpoint-rate": 2, "global-rate": 2, "global-concurrency": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert f"Stripe answered 429 (endpoint-rate): slowing customers to {22 * cut:.1f} requests/s." in messages
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
    ("key", "configured", "overall", "endpoint", "search"),
    [
        # from the key: a quarter of its default, slow-starting (endpoints from at most 22/s)
        (fake_key("sk_live"), None, (90 * pacing.START_FRACTION, 90, True), (22, 90, True), 18),
        (DEFAULT_KEY, None, (22 * pacing.START_FRACTION, 22, True), (5.5, 22, True), 18),
        (DEFAULT_KEY, 5, (5, 5, False), (5, 5, False), 5),  # configured: its start and ceiling
        (DEFAULT_KEY, 100, (100, 100, False), (22, 100, True), 18),
        (DEFAULT_KEY, 0, None, None, 18),  # 0: no overall pacing; search keeps Stripe's limit
    ],
)
def test_starting_rates_come_from_the_key_unless_configured(key, configured, overall, endpoint, search):
    client = StripeClient(key, base_url="http://127.0.0.1:9", max_requests_per_second=configured)
    pacer = client.pacer

    def state(rate: Rate | None) -> tuple[float, float, bool] | None:
        return None if rate is None else (rate.rate, rate.ceiling, rate.slow_start)

    assert state(pacer.overall) == overall
    assert state(pacer._endpoint("customers", search=False)) == endpoint
    assert pacer.search.rate == search and pacer.search.ceiling <= 20 and not pacer.search.slow_start


def test_endpoints_leave_ids_out():
    assert endpoint_name("customers") == "customers"
    assert endpoint_name("customers/cus_1") == "customers/{id}"
    assert endpoint_name("invoices/in_1/lines") == "invoices/{id}/lines"
    assert endpoint_name("checkout/sessions/cs_1") == "checkout/sessions/{id}"
    assert endpoint_name("charges/search") == "charges/search"


@pytest.mark.parametrize("burst", [None, 10], ids=["sliding-window", "token-bucket"])
def test_a_client_over_the_accounts_limit_slows_down_and_loses_nothing(
    stripe_server: FakeStripe, caplog, burst
):
    """Configured at 60/s against 25/s (counted either way): the 429s name global-rate, the client
    slows down and settles."""
    caplog.set_level(logging.WARNING)
    customers = stripe_server.seed(3000)
    stripe_server.rate_limit = 25
    stripe_server.rate_limit_burst = burst
    stripe_server.latency = 0.02
    client = StripeClient(
        DEFAULT_KEY, base_url=stripe_server.url, max_requests_per_second=60, max_retry_wait=60
    )
    with client.iterate("customers", {}, page_size=20, parallelism=4) as records:
        ids = [r["id"] for r in records]
    assert sorted(ids) == sorted(c["id"] for c in customers)
    assert stripe_server.limited_by["global-rate"] >= 1
    assert client.pacer.slowdowns.get("global-rate", 0) >= 1
    assert client.pacer.overall.rate < 30  # settled near the limit (about 24/s in practice)
    assert stripe_server.limited_by["global-rate"] <= 0.15 * records.requests  # about 6 % in practice
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
    overall = StripeHook().get_conn().pacer.overall
    assert (overall.rate, overall.ceiling, overall.slow_start) == (22 * pacing.START_FRACTION, 22, True)
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=7))
    overall = StripeHook().get_conn().pacer.overall
    assert (overall.rate, overall.ceiling) == (7, 7)


def test_a_rate_limit_error_names_its_reason(stripe_server: FakeStripe):
    stripe_server.rate_limit = 1
    client = StripeClient(DEFAULT_KEY, base_url=stripe_server.url, max_requests_per_second=0, max_retries=0)
    client.request("customers", {"limit": 1}, expect="list")
    with pytest.raises(StripeRateLimitError) as raised:
        client.request("customers", {"limit": 1}, expect="list")
    assert raised.value.rate_limited_reason == "global-rate"
    assert "reason=global-rate" in str(raised.value)


def test_the_test_server_counts_its_limit_by_a_sliding_second_or_a_token_bucket():
    """Both ways admit ``limit`` requests at once; a token bucket refills continuously, a sliding
    window only as its oldest requests turn a second old. A refused request costs nothing."""

    def admitted(limit: Limit, at: float, burst: int | None) -> bool:
        if limit.full(at, 2, burst):
            return False
        limit.admit(at, burst)
        return True

    window = Limit()
    assert [admitted(window, 0.0, None) for _ in range(3)] == [True, True, False]
    assert not admitted(window, 0.9, None)  # both still within the last second
    assert [admitted(window, 1.0, None) for _ in range(3)] == [True, True, False]

    bucket = Limit()  # three tokens, refilled at 2/s
    assert [admitted(bucket, 0.0, 3) for _ in range(4)] == [True, True, True, False]
    assert [admitted(bucket, 0.6, 3) for _ in range(2)] == [True, False]  # 1.2 tokens back
    assert [admitted(bucket, 10.0, 3) for _ in range(4)] == [True, True, True, False]  # never above 3
    assert admitted(bucket, 10.0, None)  # counting by a window again: an empty one


def test_the_test_server_answers_429_under_either_count(stripe_server: FakeStripe):
    stripe_server.seed(1)
    client = StripeClient(DEFAULT_KEY, base_url=stripe_server.url, max_requests_per_second=0, max_retries=0)

    def answered() -> bool:
        try:
            client.request("customers", {"limit": 1}, expect="list")
        except StripeRateLimitError:
            return False
        return True

    stripe_server.rate_limit = 1
    assert [answered(), answered()] == [True, False]
    time.sleep(1.0)
    stripe_server.rate_limit_burst = 2
    assert [answered(), answered(), answered()] == [True, True, False]
    assert stripe_server.limited_by == {"global-rate": 2}
