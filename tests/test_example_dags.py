"""Every example DAG parses without a database or a connection, and runs green under ``dag.test()``.

Scheduled-style runs (with a logical date, hence a data interval) and runs with no
logical date (``airflow dags trigger``, the REST API with ``"logical_date": null``)
are both exercised; ``tests/test_deployment.py`` triggers them under a real scheduler.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import time
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
        "stripe_connect_fanout",
        "stripe_revenue_export",
    }


def test_examples_parse_with_no_database_and_no_connection(monkeypatch):
    from tests.airflow_compat import DagBag

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


def run_example(run_dag, name: str, dag_id: str | None = None, **kwargs):
    """Run the example file ``name`` (its DAG ``dag_id``) with ``dag.test(**kwargs)``; return results and run."""
    source = (EXAMPLES / f"{name}.py").read_text().replace(f'"{dag_id or name}"', '"DAG_ID"')
    dag_run, dag = run_dag(source, **kwargs)
    assert dag_run.state == "success", task_results(dag_run)
    if "logical_date" in kwargs:
        assert dag_run.logical_date == kwargs["logical_date"]
    return task_results(dag_run), dag_run, dag


def rendered(dag_run, task_id: str) -> dict:
    """A finished task's templated fields as they were rendered for the run."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields

    return RenderedTaskInstanceFields.get_templated_fields(dag_run.get_task_instance(task_id))


def newest_first(customers: list[dict]) -> list[dict]:
    return sorted(customers, key=lambda c: (c["created"], c["id"]), reverse=True)


# Scheduled: the data interval [06-01, 06-02). Triggered by hand on 06-02 with no logical
# date: the previous full UTC day before run_after, the same day.
NIGHTLY_RUNS = {
    "scheduled": {"logical_date": pendulum.datetime(2024, 6, 2, tz="UTC")},
    "no_logical_date": {"logical_date": None, "run_after": pendulum.datetime(2024, 6, 2, 9, 30, tz="UTC")},
}


@pytest.mark.parametrize("run", NIGHTLY_RUNS.values(), ids=NIGHTLY_RUNS.keys())
def test_nightly_export(example_env: FakeStripe, run_dag, tmp_path, run):
    end = pendulum.datetime(2024, 6, 2, tz="UTC")
    start = end.subtract(days=1)
    inside = example_env.seed(250, start=start.int_timestamp, spacing=300)  # 250 × 5 min < 1 day
    example_env.seed(5, start=end.int_timestamp, spacing=10)  # the next night's (before run_after too)
    example_env.seed(5, start=start.int_timestamp - 100, spacing=10)  # the previous night's
    results, dag_run, _ = run_example(run_dag, "stripe_nightly_export", **run)
    export = results["export_customers"][1]
    expected_path = tmp_path / "customers" / "date=2024-06-01" / "customers.jsonl.gz"
    assert export == {"path": f"file://{expected_path}", "records": 250, "format": "jsonl", "has_more": False}
    lines = gzip.decompress(expected_path.read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == newest_first(inside)
    assert results["report"] == ("success", 250)
    assert rendered(dag_run, "export_customers")["created"] == {
        "gte": "2024-06-01 00:00:00+00:00",
        "lt": "2024-06-02 00:00:00+00:00",
    }
    # It reads the window once it has been closed for five minutes (long past here: at once).
    assert rendered(dag_run, "wait_for_interval_to_settle") == {"target_time": "2024-06-02 00:05:00+00:00"}


# The hourly producer: its data interval [12:00, 13:00), or with no logical date the
# previous full UTC hour before run_after, the same hour.
PRODUCER_RUNS = {
    "scheduled": {"logical_date": pendulum.datetime(2024, 6, 1, 13, tz="UTC")},
    "no_logical_date": {"logical_date": None, "run_after": pendulum.datetime(2024, 6, 1, 13, 45, tz="UTC")},
}


@pytest.mark.parametrize("run", PRODUCER_RUNS.values(), ids=PRODUCER_RUNS.keys())
def test_asset_producer(example_env: FakeStripe, run_dag, tmp_path, run):
    start = pendulum.datetime(2024, 6, 1, 12, tz="UTC")
    inside = example_env.seed(60, start=start.int_timestamp, spacing=60)  # 12:00 … 12:59
    example_env.seed(3, start=start.int_timestamp - 3, spacing=1)  # 11:59:57 … 11:59:59
    example_env.seed(3, start=start.int_timestamp + 3600, spacing=60)  # 13:00 … 13:02
    results, _, _ = run_example(run_dag, "stripe_asset_driven", dag_id="stripe_asset_producer", **run)
    expected_path = tmp_path / "hourly" / "20240601T120000.jsonl"
    assert results["export_customers"][1] == {
        "path": f"file://{expected_path}",
        "records": 60,
        "format": "jsonl",
        "has_more": False,
    }
    assert [json.loads(line) for line in expected_path.read_text().splitlines()] == newest_first(inside)


def test_list_then_get(example_env: FakeStripe, run_dag):
    customers = example_env.seed(15)
    results, _, _ = run_example(run_dag, "stripe_list_then_get", logical_date=None)
    assert [results[f"get_customer[{i}]"][1] for i in range(10)] == customers[:10]
    gets = [r for r in example_env.requests if r["path"].startswith("/v1/customers/")]
    assert len(gets) == 10 and all(("expand[]", "default_source") in r["query"] for r in gets)


def test_taskflow_hook(example_env: FakeStripe, run_dag):
    now = pendulum.now("UTC")
    recent = example_env.seed(40, start=now.subtract(days=10).int_timestamp, spacing=600)
    example_env.seed(7, start=now.subtract(days=90).int_timestamp, spacing=600)
    results, dag_run, _ = run_example(run_dag, "stripe_taskflow_hook")
    assert_counts_by_country(results, dag_run, recent)


def test_taskflow_hook_with_no_logical_date(example_env: FakeStripe, run_dag):
    """Triggered by hand: the 30 days before run_after, with run_after as the upper bound."""
    run_after = pendulum.datetime(2024, 3, 31, 12, tz="UTC")
    since = run_after.subtract(days=30)
    inside = example_env.seed(40, start=since.int_timestamp, spacing=3600)  # from exactly 30 days before
    example_env.seed(5, start=since.int_timestamp - 5, spacing=1)  # just too old
    example_env.seed(5, start=run_after.int_timestamp, spacing=60)  # created from run_after on
    results, dag_run, _ = run_example(run_dag, "stripe_taskflow_hook", logical_date=None, run_after=run_after)
    assert_counts_by_country(results, dag_run, inside)


def assert_counts_by_country(results: dict, dag_run, customers: list[dict]) -> None:
    from airflow.models.xcom import XComModel
    from airflow.settings import Session

    counts = results["customers_by_country"][1]
    expected: dict[str, int] = {}
    for customer in customers:
        expected[customer["address"]["country"]] = expected.get(customer["address"]["country"], 0) + 1
    assert counts == expected
    # One XCom, not one per country as a dict return annotation would imply.
    xcoms = Session().scalars(
        XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids="customers_by_country")
    )
    assert [x.key for x in xcoms] == ["return_value"]


def test_connect_fanout(example_env: FakeStripe, run_dag, tmp_path):
    """Accounts listed from Stripe; each account's customers and charges to its own files, tagged."""
    accounts = [
        example_env.connect_account(f"acct_{name}", created=1_700_000_000 + i) for i, name in enumerate("AB")
    ]
    expected: dict[tuple[str, str], list[dict]] = {}
    for index, account in enumerate(accounts):
        expected[account["id"], "customers"] = example_env.seed(3 + index, account=account["id"])
        expected[account["id"], "charges"] = example_env.seed_objects(
            "charges", 2 + index, account=account["id"]
        )
    example_env.seed(4)  # the platform's own customers: not exported
    results, _, _ = run_example(run_dag, "stripe_connect_fanout", logical_date=None)
    assert results["connected_accounts"] == ("success", ["acct_B", "acct_A"])  # newest first
    assert sorted(key for key in results if key.startswith("export[")) == [f"export[{i}]" for i in range(4)]
    for (account, resource), records in expected.items():
        lines = read_jsonl_gz(tmp_path / "connect" / account / f"{resource}.jsonl.gz")
        assert lines == [{**record, "_stripe_account": account} for record in records]
    summaries = [results[f"export[{i}]"][1] for i in range(4)]
    assert sorted((r["stripe_account"], r["records"]) for r in summaries) == sorted(
        (account, len(records)) for (account, _), records in expected.items()
    )


# Scheduled: the data interval [06-01, 06-02); with no logical date, the previous UTC day.
@pytest.mark.parametrize("run", NIGHTLY_RUNS.values(), ids=NIGHTLY_RUNS.keys())
def test_revenue_export(example_env: FakeStripe, run_dag, tmp_path, run):
    end = pendulum.datetime(2024, 6, 2, tz="UTC")
    start = end.subtract(days=1)
    day = {"start": start.int_timestamp, "spacing": 1800}
    invoices = example_env.seed_objects("invoices", 20, embedded={"lines": 30}, **day)
    invoices += example_env.seed_objects(
        "invoices", 1, start=start.int_timestamp + 7, embedded={"lines": 250}
    )
    statuses = ["active", "canceled", "past_due", "canceled"]
    subscriptions = example_env.seed_objects("subscriptions", 8, status=lambda i: statuses[i % 4], **day)
    charges = example_env.seed_objects("charges", 12, **day)
    for path in ("invoices", "subscriptions", "charges"):  # the days before and after
        example_env.seed_objects(path, 2, start=start.int_timestamp - 2, spacing=1)
        example_env.seed_objects(path, 2, start=end.int_timestamp, spacing=1)
    results, _, _ = run_example(run_dag, "stripe_revenue_export", **run)
    folder = tmp_path / "revenue" / "date=2024-06-01"
    stored = {path: example_env.objects_now(path) for path in ("invoices", "subscriptions", "charges")}
    for path, seeded in (("invoices", invoices), ("subscriptions", subscriptions), ("charges", charges)):
        written = read_jsonl_gz(folder / f"{path}.jsonl.gz")
        assert written == [stored[path][r["id"]] for r in newest_first(seeded)], path
    assert sum(1 for s in read_jsonl_gz(folder / "subscriptions.jsonl.gz") if s["status"] == "canceled") == 4
    assert results["check_invoice_lines"] == ("success", 20 * 30 + 250)


def read_jsonl_gz(path: Path) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def test_backfill_windows(example_env: FakeStripe, run_dag, tmp_path):
    """Runs out of the box (no pool to create), at most four windows of a run at once."""
    start, end = pendulum.datetime(2024, 1, 1, tz="UTC"), pendulum.datetime(2024, 1, 11, tz="UTC")
    inside = example_env.seed(900, start=start.int_timestamp, spacing=960)  # 900 × 16 min = 10 days
    example_env.seed(3, start=end.int_timestamp, spacing=5)
    results, _, dag = run_example(
        run_dag,
        "stripe_backfill_windows",
        logical_date=None,
        run_conf={"start": start.isoformat(), "end": end.isoformat(), "windows": 5},
    )
    export_window = dag.get_task("export_window")
    assert (export_window.pool, export_window.max_active_tis_per_dagrun) == ("default_pool", 4)
    windows = [w["created"] for w in results["plan"][1]]
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


def backfill_output(tmp_path: Path) -> tuple[list[Path], list[dict]]:
    """Every window file under ``backfill/`` (any range, any run), and the records they hold."""
    files = sorted((tmp_path / "backfill").rglob("window-*.jsonl.gz"))
    return files, [record for f in files for record in read_jsonl_gz(f)]


def test_backfill_windows_rerun_with_fewer_windows_leaves_each_record_once(
    example_env: FakeStripe, run_dag, tmp_path
):
    """Issue 20: the same range with 4 windows, then 2, left 4 files and ~150 records for 100."""
    start, end = pendulum.datetime(2024, 1, 1, tz="UTC"), pendulum.datetime(2024, 1, 2, tz="UTC")
    customers = example_env.seed(100, start=start.int_timestamp, spacing=864)  # 100 in one day
    conf = {"start": start.isoformat(), "end": end.isoformat()}
    _, first, dag = run_example(
        run_dag, "stripe_backfill_windows", logical_date=None, run_conf={**conf, "windows": 4}
    )
    assert len(backfill_output(tmp_path)[0]) == 4
    second = dag.test(logical_date=None, run_conf={**conf, "windows": 2})
    assert second.state == "success" and second.run_id != first.run_id
    files, records = backfill_output(tmp_path)
    assert len(records) == 100 and len({r["id"] for r in records}) == 100, (len(records), files)
    assert sorted(r["id"] for r in records) == sorted(c["id"] for c in customers)
    # Only the second run's two files are left, in its own folder, which CURRENT names.
    assert [f.name for f in files] == ["window-0000.jsonl.gz", "window-0001.jsonl.gz"]
    (range_folder,) = (tmp_path / "backfill").iterdir()
    assert range_folder.name == "20240101T000000Z_20240102T000000Z"
    (current,) = {f.parent for f in files}
    assert sorted(p.name for p in range_folder.iterdir()) == sorted(["CURRENT", current.name])
    assert (range_folder / "CURRENT").read_text() == current.name
    assert re.fullmatch(
        rf"run={re.escape(re.sub(r'[^A-Za-z0-9._-]', '_', second.run_id))}-[0-9a-f]{{8}}", current.name
    )


def backfill_tasks():
    """The example's ``plan`` and ``publish`` as plain functions (their ``@task`` callables)."""
    namespace: dict = {}
    path = EXAMPLES / "stripe_backfill_windows.py"
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    dag = namespace["dag"]
    return dag.get_task("plan").python_callable, dag.get_task("publish").python_callable


def test_backfill_publish_refuses_a_run_whose_windows_are_not_all_there(tmp_path):
    """A window marked success by hand (or a failed one cleared after a newer run): CURRENT stays."""
    from types import SimpleNamespace

    plan, publish = backfill_tasks()
    conf = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z", "windows": 4}
    run = SimpleNamespace(run_id="manual__2024-06-02T09:30:00+00:00", run_after=pendulum.now("UTC"))
    windows = plan(base=f"file://{tmp_path}/backfill", params=conf, dag_run=run)
    range_folder = tmp_path / "backfill" / "20240101T000000Z_20240102T000000Z"
    (range_folder / "run=previous").mkdir(parents=True)
    (range_folder / "run=previous" / "window-0000.jsonl.gz").write_bytes(b"complete")
    (range_folder / "CURRENT").write_text("run=previous")
    folder = Path(windows[0]["output_path"].removeprefix("file://")).parent
    folder.mkdir(parents=True)
    for window in windows[1:]:  # window 0 never written
        Path(window["output_path"].removeprefix("file://")).write_bytes(b"part")
    with pytest.raises(RuntimeError, match=re.escape("lacks ['window-0000.jsonl.gz']")):
        publish(windows)
    assert (range_folder / "CURRENT").read_text() == "run=previous"
    assert (range_folder / "run=previous" / "window-0000.jsonl.gz").read_bytes() == b"complete"


def test_backfill_plans_every_attempt_its_own_short_folder(tmp_path):
    """A run id used again gets a new folder; a 250-character run id still makes a valid file name."""
    from types import SimpleNamespace

    plan, publish = backfill_tasks()
    conf = {"start": "2024-01-01T00:00:00Z", "end": "2024-01-02T00:00:00Z", "windows": 2}
    run = SimpleNamespace(run_id="m" * 250, run_after=pendulum.now("UTC"))
    first = plan(base=f"file://{tmp_path}/backfill", params=conf, dag_run=run)
    again = plan(base=f"file://{tmp_path}/backfill", params=conf, dag_run=run)
    folders = [Path(w[0]["output_path"].removeprefix("file://")).parent for w in (first, again)]
    assert folders[0] != folders[1] and folders[0].parent == folders[1].parent
    for window in again:
        path = Path(window["output_path"].removeprefix("file://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")  # the file system takes the name
    assert len(folders[1].name) <= 170
    assert publish(again).endswith(folders[1].name)
    assert (folders[1].parent / "CURRENT").read_text() == folders[1].name


def test_backfill_windows_failed_rerun_leaves_the_previous_output(example_env: FakeStripe, run_dag, tmp_path):
    """A window fails: CURRENT still names the last complete run; the next success cleans up."""
    from tests.stripe_server import Fault

    start, end = pendulum.datetime(2024, 1, 1, tz="UTC"), pendulum.datetime(2024, 1, 2, tz="UTC")
    customers = example_env.seed(100, start=start.int_timestamp, spacing=864)
    conf = {"start": start.isoformat(), "end": end.isoformat()}
    _, _, dag = run_example(
        run_dag, "stripe_backfill_windows", logical_date=None, run_conf={**conf, "windows": 4}
    )
    range_folder = tmp_path / "backfill" / "20240101T000000Z_20240102T000000Z"

    def current() -> list[dict]:
        folder = range_folder / (range_folder / "CURRENT").read_text()
        return [r for f in sorted(folder.glob("window-*.jsonl.gz")) for r in read_jsonl_gz(f)]

    example_env.faults.append(Fault(status=400))  # the first window's first request
    failed = dag.test(logical_date=None, run_conf={**conf, "windows": 2})
    states = task_results(failed)
    assert failed.state == "failed" and states["publish"][0] == "upstream_failed", states
    assert sorted(r["id"] for r in current()) == sorted(c["id"] for c in customers)
    assert len(list((range_folder / (range_folder / "CURRENT").read_text()).iterdir())) == 4
    again = dag.test(logical_date=None, run_conf={**conf, "windows": 2})
    assert again.state == "success"
    assert sorted(r["id"] for r in current()) == sorted(c["id"] for c in customers)
    assert len(backfill_output(tmp_path)[0]) == 2  # the failed run's window is gone too


@pytest.mark.parametrize(
    "logical_date", [{}, {"logical_date": None}], ids=["logical_date", "no_logical_date"]
)
def test_backfill_windows_default_end_is_the_run_after(
    example_env: FakeStripe, run_dag, tmp_path, logical_date
):
    """With no ``end``, everything created before the run (this year's customers too) is exported."""
    now = pendulum.now("UTC")
    customers = example_env.seed(5, start=pendulum.datetime(2025, 6, 1, tz="UTC").int_timestamp)
    customers += example_env.seed(20, start=now.subtract(days=30).int_timestamp, spacing=3600)
    customers += example_env.seed(3, start=now.int_timestamp - 30, spacing=1)  # the last minute
    example_env.seed(2, start=now.add(hours=1).int_timestamp)  # after the run: not yet
    results, dag_run, _ = run_example(
        run_dag, "stripe_backfill_windows", run_conf={"windows": 3}, **logical_date
    )
    assert results["plan"][1][-1]["created"]["lt"] == int(dag_run.run_after.timestamp())
    _, records = backfill_output(tmp_path)
    assert sorted(r["id"] for r in records) == sorted(c["id"] for c in customers)


def warehouse_table(path: Path) -> dict[str, dict]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, data FROM customers")}


def test_customers_sync_keeps_the_table_equal_to_stripe(
    example_env: FakeStripe, run_dag, monkeypatch, tmp_path
):
    """First run: a snapshot. Then creates, updates and deletes; each later run merges them."""
    import random

    warehouse = tmp_path / "warehouse.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)})
    )
    now = pendulum.now("UTC")
    example_env.seed(300, start=now.subtract(days=200).int_timestamp, spacing=3600)
    results, _, _ = run_example(run_dag, "stripe_customers_sync", logical_date=None)
    assert results["snapshot"][0] == "success" and results["changes"][0] == "skipped"
    assert results["load_snapshot"] == ("success", 300)
    assert warehouse_table(warehouse) == example_env.customers_now()

    rng = random.Random(7)
    for round_ in range(2):
        time.sleep(1.1)  # past the snapshot's (or the last window's) second
        ids = list(example_env.store().index)
        for customer_id in rng.sample(ids, 20):
            example_env.update_customer(customer_id, email=f"moved{round_}{rng.random():.6f}@example.com")
            example_env.update_customer(customer_id, metadata={"round": str(round_)})
        for customer_id in rng.sample(ids, 5):
            example_env.delete_customer(customer_id)
        created = [example_env.create_customer(email=f"fresh{i}@example.com")["id"] for i in range(4)]
        example_env.update_customer(created[0], name="renamed at once")
        example_env.delete_customer(created[1])
        time.sleep(1.1)  # the window ends a second before now: let the last change fall inside it
        results, _, _ = run_example(
            run_dag, "stripe_customers_sync", logical_date=None, run_conf={"settle_seconds": 0}
        )
        assert results["snapshot"][0] == "skipped"
        changes = results["changes"][1]
        assert (changes["upserts"], changes["deletes"]) == (23, 6), changes
        assert results["merge"][1] == {
            "upserts": 23,
            "deletes": 6,
            "customers": len(example_env.store().index),
        }
        assert warehouse_table(warehouse) == example_env.customers_now()


def test_customers_sync_merge_refuses_a_stale_window_and_tolerates_its_own_retry(
    example_env: FakeStripe, run_dag, monkeypatch, tmp_path
):
    """A run that lost a race (a backfill, a cleared old run) must not write older states over newer ones."""
    import sqlite3

    warehouse = tmp_path / "warehouse.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)})
    )
    example_env.seed(5, start=pendulum.now("UTC").subtract(days=90).int_timestamp)
    _, _, dag = run_example(run_dag, "stripe_customers_sync", logical_date=None)
    with contextlib.closing(sqlite3.connect(warehouse)) as db:
        (synced,) = db.execute("SELECT synced_until FROM stripe_sync_state").fetchone()
    merge = dag.get_task("merge").python_callable
    victim = next(iter(example_env.customers_now().values()))
    stale = tmp_path / "stale.jsonl"
    stale.write_text(json.dumps({**victim, "name": "OLD STATE"}) + "\n")
    before = warehouse_table(warehouse)
    with pytest.raises(RuntimeError, match="another run merged meanwhile"):
        merge({"path": f"file://{stale}", "window": {"gte": synced - 100, "lt": synced - 50}})
    assert warehouse_table(warehouse) == before
    # This run's own window merges once; a retry after its commit applies nothing twice and succeeds.
    assert merge({"path": f"file://{stale}", "window": {"gte": synced, "lt": synced + 10}})["upserts"] == 1
    assert merge({"path": f"file://{stale}", "window": {"gte": synced, "lt": synced + 10}})["upserts"] == 0
    assert warehouse_table(warehouse)[victim["id"]]["name"] == "OLD STATE"
