"""Parallel extraction: exactly once, balanced, within the rate limit."""

from __future__ import annotations

import collections
import random
import threading
import time

import pytest

from airflow_provider_stripe.api.params import split_created
from airflow_provider_stripe.exceptions import StripeAPIError, StripeParameterError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json, task_results
from tests.stripe_server import FakeStripe, Fault

NOW = 1_790_000_000


def export(server: FakeStripe, parallelism: int = 6, **kwargs):
    iterator = StripeHook().iter_customers(
        parallelism=parallelism, page_size=kwargs.pop("page_size", 20), **kwargs
    )
    return [c["id"] for c in iterator], iterator


def assert_exactly(got: list[str], expected: list[str]) -> None:
    duplicates = [i for i, n in collections.Counter(got).items() if n > 1]
    assert duplicates == []
    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize(
    "distribution",
    [
        "uniform",  # evenly over three years
        "skewed",  # 95 % in the last week, the rest over ten years
        "ancient",  # everything in one day, 20 years ago
    ],
)
def test_every_customer_exactly_once(stripe_conn: FakeStripe, distribution):
    rng = random.Random(distribution)
    if distribution == "uniform":
        created = [NOW - rng.randrange(3 * 365 * 86400) for _ in range(3000)]
    elif distribution == "skewed":
        created = [NOW - rng.randrange(7 * 86400) for _ in range(2850)]
        created += [NOW - rng.randrange(10 * 365 * 86400) for _ in range(150)]
    else:
        created = [NOW - 20 * 365 * 86400 + rng.randrange(86400) for _ in range(3000)]
    stripe_conn.seed(len(created), created=sorted(created))
    got, iterator = export(stripe_conn, parallelism=6)
    assert_exactly(got, list(stripe_conn.store().index))
    assert iterator.records == 3000 and iterator.has_more is False
    # Work was really shared: several windows, each listed with its own created range.
    assert len(iterator.windows) >= 6
    ranges = {
        (dict(r["query"]).get("created[gte]"), dict(r["query"]).get("created[lt]"))
        for r in stripe_conn.requests
    }
    assert len(ranges) >= 6


def test_many_customers_in_one_second_at_split_points(stripe_conn: FakeStripe):
    # 1,500 customers share one second; splits land on and around it.
    created = [NOW - 1000 + i for i in range(200)] + [NOW - 500] * 1500 + [NOW - 400 + i for i in range(300)]
    stripe_conn.seed(len(created), created=sorted(created))
    got, iterator = export(stripe_conn, parallelism=8, page_size=10)
    assert_exactly(got, list(stripe_conn.store().index))
    assert len(iterator.windows) > 1


def test_respects_the_callers_created_range(stripe_conn: FakeStripe):
    created = sorted(NOW - i * 37 for i in range(3000))
    stripe_conn.seed(len(created), created=created)
    window = {"gte": NOW - 50_000, "lt": NOW - 20_000}
    got, _ = export(stripe_conn, parallelism=5, created=window)
    expected = [
        c["id"] for c in stripe_conn.store().customers if window["gte"] <= c["created"] < window["lt"]
    ]
    assert_exactly(got, expected)
    for request in stripe_conn.requests:
        query = dict(request["query"])
        assert int(query["created[gte]"]) >= window["gte"] and int(query["created[lt]"]) <= window["lt"]


def test_filters_pass_through(stripe_conn: FakeStripe):
    stripe_conn.seed(400, start=NOW - 40_000, spacing=100)
    clocked = stripe_conn.seed(60, start=NOW - 30_000, spacing=7, test_clock="clock_p")
    got, _ = export(stripe_conn, parallelism=4, page_size=5, test_clock="clock_p")
    assert_exactly(got, [c["id"] for c in clocked])


def test_customers_created_during_the_export_are_never_duplicated(stripe_conn: FakeStripe):
    now = int(time.time())
    stripe_conn.seed(2000, created=sorted(now - 10 - i * 13 for i in range(2000)))
    before = set(stripe_conn.store().index)
    stripe_conn.latency = 0.01
    stop = threading.Event()
    added: list[str] = []

    def keep_creating():
        while not stop.is_set():
            added.extend(c["id"] for c in stripe_conn.seed(3, created=[int(time.time())] * 3))
            time.sleep(0.01)

    creator = threading.Thread(target=keep_creating)
    creator.start()
    try:
        got, _ = export(stripe_conn, parallelism=6)
    finally:
        stop.set()
        creator.join()
    assert added, "nothing was created during the export, so the test proves nothing"
    assert len(got) == len(set(got))
    assert before <= set(got) <= before | set(added)


def test_rate_limit_is_never_exceeded(stripe_server: FakeStripe, monkeypatch):
    stripe_server.seed(2000, created=sorted(NOW - i * 17 for i in range(2000)))
    stripe_server.rate_limit = 20
    stripe_server.latency = 0.05
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=18, max_retries=0)
    )
    got, _ = export(stripe_server, parallelism=10)
    assert len(got) == 2000
    assert stripe_server.rate_limited == 0
    stamps = sorted(r["time"] for r in stripe_server.requests)
    assert len(stamps) > 40
    worst = max(sum(1 for t in stamps[i:] if t - stamps[i] < 1.0) for i in range(len(stamps)))
    assert worst <= 18 + 1  # pacing spaces requests 1/18 s apart (+1 for arrival jitter)


def test_a_failing_worker_fails_the_export(stripe_conn: FakeStripe):
    stripe_conn.seed(1000, created=sorted(NOW - i * 11 for i in range(1000)))
    stripe_conn.faults.extend([Fault(), Fault(), Fault(status=400)])
    with pytest.raises(StripeAPIError):
        export(stripe_conn, parallelism=4)


@pytest.mark.parametrize(
    "kwargs",
    [{"starting_after": "cus_1"}, {"ending_before": "cus_1"}, {"max_records": 10}, {"parallelism": 0}],
)
def test_parallel_rejects_what_it_cannot_honour(stripe_conn: FakeStripe, kwargs):
    kwargs.setdefault("parallelism", 4)
    with pytest.raises(StripeParameterError, match="parallelism"):
        StripeHook().iter_customers(**kwargs)
    assert stripe_conn.requests == []


def test_split_created_makes_contiguous_half_open_windows():
    windows = split_created({"gte": "2024-01-01T00:00:00Z", "lt": "2024-01-02T00:00:00Z"}, 4)
    assert windows == [
        {"gte": 1704067200, "lt": 1704088800},
        {"gte": 1704088800, "lt": 1704110400},
        {"gte": 1704110400, "lt": 1704132000},
        {"gte": 1704132000, "lt": 1704153600},
    ]
    assert split_created({"gte": 10, "lt": 13}, 8) == [
        {"gte": 10, "lt": 11},
        {"gte": 11, "lt": 12},
        {"gte": 12, "lt": 13},
    ]
    with pytest.raises(StripeParameterError, match="lower and an upper bound"):
        split_created({"gte": 10}, 3)


def test_list_operator_parallel_to_file(stripe_conn: FakeStripe, run_dag, tmp_path):
    stripe_conn.seed(1500, created=sorted(NOW - i * 101 for i in range(1500)))
    dag_run, _ = run_dag(
        f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_provider_stripe.operators import StripeListCustomersOperator
        with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
            StripeListCustomersOperator(task_id="par", parallelism=5, page_size=50,
                                        max_requests_per_second=100, output_path="{tmp_path}/all.jsonl")
        """
    )
    result = task_results(dag_run)["par"]
    assert result[0] == "success" and result[1]["records"] == 1500
    lines = (tmp_path / "all.jsonl").read_text().splitlines()
    assert len(lines) == 1500 and len(set(lines)) == 1500
