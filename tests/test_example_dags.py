"""Every example DAG parses without a database or a connection, and runs green under ``dag.test()``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pendulum
import pytest

from tests.conftest import conn_json, task_results
from tests.stripe_server import FakeStripe

EXAMPLES = Path(__file__).resolve().parent.parent / "example_dags"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.py"))


def test_examples_exist():
    assert {p.stem for p in EXAMPLE_FILES} >= {
        "stripe_nightly_export",
        "stripe_list_then_get",
        "stripe_taskflow_hook",
        "stripe_connect_accounts",
    }


def test_examples_parse_with_no_database_and_no_connection(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    def no_io(*args, **kwargs):
        raise AssertionError("parsing an example DAG must not open a connection")

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", no_io)
    monkeypatch.setattr("airflow.sdk.Variable.get", no_io)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "sqlite:////nonexistent/dir/airflow.db")
    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {p.stem for p in EXAMPLE_FILES} - {"stripe_asset_driven"} | {
        "stripe_asset_producer",
        "stripe_asset_consumer",
    }


@pytest.fixture
def example_env(stripe_server: FakeStripe, monkeypatch, tmp_path) -> FakeStripe:
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=0))
    monkeypatch.setenv("AIRFLOW_VAR_STRIPE_EXPORT_BASE", f"file://{tmp_path}")
    return stripe_server


def run_example(run_dag, name: str, **kwargs):
    dag_run, _ = run_dag((EXAMPLES / f"{name}.py").read_text().replace(f'"{name}"', '"DAG_ID"'), **kwargs)
    assert dag_run.state == "success", task_results(dag_run)
    return task_results(dag_run)


def test_nightly_export(example_env: FakeStripe, run_dag, tmp_path):
    end = pendulum.datetime(2024, 6, 2, tz="UTC")
    start = end.subtract(days=1)
    inside = example_env.seed(250, start=start.int_timestamp, spacing=300)  # 250 × 5 min < 1 day
    example_env.seed(5, start=end.int_timestamp, spacing=10)  # the next night's
    example_env.seed(5, start=start.int_timestamp - 100, spacing=10)  # the previous night's
    results = run_example(run_dag, "stripe_nightly_export", logical_date=end)
    export = results["export_customers"][1]
    expected_path = tmp_path / "customers" / "date=2024-06-01" / "customers.jsonl.gz"
    assert export == {"path": f"file://{expected_path}", "records": 250, "format": "jsonl", "has_more": False}
    lines = gzip.decompress(expected_path.read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == sorted(
        inside, key=lambda c: (c["created"], c["id"]), reverse=True
    )
    assert results["report"] == ("success", 250)


def test_list_then_get(example_env: FakeStripe, run_dag):
    customers = example_env.seed(15)
    results = run_example(run_dag, "stripe_list_then_get")
    assert [results[f"get_customer[{i}]"][1] for i in range(10)] == customers[:10]
    gets = [r for r in example_env.requests if r["path"].startswith("/v1/customers/")]
    assert len(gets) == 10 and all(("expand[]", "default_source") in r["query"] for r in gets)


def test_taskflow_hook(example_env: FakeStripe, run_dag):
    now = pendulum.now("UTC")
    recent = example_env.seed(40, start=now.subtract(days=10).int_timestamp, spacing=600)
    example_env.seed(7, start=now.subtract(days=90).int_timestamp, spacing=600)
    results = run_example(run_dag, "stripe_taskflow_hook")
    counts = results["customers_by_country"][1]
    assert sum(counts.values()) == 40
    expected: dict[str, int] = {}
    for customer in recent:
        expected[customer["address"]["country"]] = expected.get(customer["address"]["country"], 0) + 1
    assert counts == expected


def test_connect_accounts(example_env: FakeStripe, run_dag, monkeypatch, tmp_path):
    a = example_env.seed(4, account="acct_1A")
    b = example_env.seed(3, account="acct_2B")
    monkeypatch.setenv("AIRFLOW_VAR_STRIPE_CONNECTED_ACCOUNTS", json.dumps(["acct_1A", "acct_2B"]))
    results = run_example(run_dag, "stripe_connect_accounts")
    assert results["export_account[0]"][1]["records"] == 4
    assert results["export_account[1]"][1]["records"] == 3
    for account, customers in (("acct_1A", a), ("acct_2B", b)):
        lines = (tmp_path / "connect" / account / "customers.jsonl").read_text().splitlines()
        assert [json.loads(line) for line in lines] == customers


def test_backfill_windows(example_env: FakeStripe, run_dag, tmp_path):
    from airflow.models.pool import Pool

    Pool.create_or_update_pool("stripe_api", slots=4, description="Stripe API budget", include_deferred=False)
    start, end = pendulum.datetime(2024, 1, 1, tz="UTC"), pendulum.datetime(2024, 1, 11, tz="UTC")
    inside = example_env.seed(900, start=start.int_timestamp, spacing=960)  # 900 × 16 min = 10 days
    example_env.seed(3, start=end.int_timestamp, spacing=5)
    results = run_example(
        run_dag,
        "stripe_backfill_windows",
        run_conf={"start": start.isoformat(), "end": end.isoformat(), "windows": 5},
    )
    windows = results["created_windows"][1]
    assert (
        len(windows) == 5
        and windows[0]["gte"] == start.int_timestamp
        and windows[-1]["lt"] == end.int_timestamp
    )
    files = sorted((tmp_path / "backfill").rglob("window-*.jsonl.gz"))
    assert [f.name for f in files] == [f"window-{i:04d}.jsonl.gz" for i in range(5)]
    exported = [
        json.loads(line) for f in files for line in gzip.decompress(f.read_bytes()).decode().splitlines()
    ]
    assert sorted(c["id"] for c in exported) == sorted(c["id"] for c in inside)
    assert sum(results[f"export_window[{i}]"][1]["records"] for i in range(5)) == 900
