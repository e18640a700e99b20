"""The example DAGs in a real deployment, triggered by hand through the REST API.

A fresh ``AIRFLOW_HOME`` with SQLite, the LocalExecutor, and ``airflow api-server``,
``airflow scheduler`` and ``airflow dag-processor`` as separate processes, all on
127.0.0.1. The connection comes from ``AIRFLOW_CONN_STRIPE_DEFAULT`` (pointing at the
fake Stripe server), the export base from ``AIRFLOW_VAR_STRIPE_EXPORT_BASE``. The test
logs in through ``POST /auth/token``, unpauses four examples and triggers each with
``{"logical_date": null}``, and checks what each run exported. The backfill then runs
again over the same range with fewer windows, which must replace its output.
Unpausing the nightly export also makes the scheduler create its scheduled run for
the last full day, which is checked too.

Run it with ``make test-deployment`` (it is excluded from the default ``pytest`` run).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import psutil
import pytest
import requests

from tests.conftest import conn_json, free_port, wait_until_serving
from tests.stripe_server import FakeStripe

pytestmark = [pytest.mark.deployment, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
TRIGGERED = (
    "stripe_nightly_export",
    "stripe_taskflow_hook",
    "stripe_backfill_windows",
    "stripe_list_then_get",
    "stripe_customers_sync",
    "stripe_revenue_export",
    "stripe_connect_fanout",
)
RUN_TIMEOUT = 360.0  # seconds for every run to finish
# Scheduler and dag processor tuned for a test: short loops, prompt pickup of the DAG files.
FAST = {
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
}


class Deployment:
    """The running components, the REST API with a bearer token, and where things land."""

    def __init__(self, home: Path, output: Path, url: str, processes: dict[str, subprocess.Popen[bytes]]):
        self.home, self.output, self.url, self.processes = home, output, url, processes
        self.session = requests.Session()

    def sign_in(self, password: str) -> None:
        """Wait until the API server answers, then log in as ``admin``."""
        wait_until_serving(
            f"{self.url}/api/v2/monitor/health",
            self.processes["api-server"],
            timeout=120,
            what="the API server",
        )
        self.login("admin", password)

    def login(self, username: str, password: str) -> None:
        answer = requests.post(
            f"{self.url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        assert answer.status_code == 201, answer.text
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(5):
            answer = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
            # SQLite takes one writer at a time: a write racing the scheduler's can fail as a
            # "Database error" (database is locked). A user would try again; so does the test.
            if answer.status_code != 500 or "Database error" not in answer.text or attempt == 4:
                break
            time.sleep(1 + attempt)
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        entry = self.api(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        )
        return json.loads(entry["value"]) if isinstance(entry["value"], str) else entry["value"]

    def print_logs(self) -> None:
        """The tail of every component's log and of every task log, to debug a failure."""
        logs = sorted((self.home / "components").glob("*.log"))
        logs += sorted((self.home / "logs").rglob("attempt=*.log"))
        for log in logs:
            lines = log.read_text(errors="replace").splitlines()[-80:]
            print(f"===== {log.relative_to(self.home)} (last {len(lines)} lines)", *lines, sep="\n")

    @contextlib.contextmanager
    def print_logs_on_failure(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.print_logs()
            raise


def airflow_env(home: Path, dags: Path, output: Path, port: int, stripe_url: str, password_file: Path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return (
        env
        | FAST
        | {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # Shared by the API server (which checks task tokens) and the scheduler (which issues them).
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
            "AIRFLOW_CONN_STRIPE_DEFAULT": conn_json(stripe_url, max_requests_per_second=0),
            "AIRFLOW_VAR_STRIPE_EXPORT_BASE": f"file://{output}",
            "AIRFLOW_CONN_STRIPE_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(home / "wh.db")}),
        }
    )


def process_tree(processes: dict[str, subprocess.Popen[bytes]]) -> list[psutil.Process]:
    tree = []
    for process in processes.values():
        try:
            root = psutil.Process(process.pid)
            tree += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return tree


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM each component's process group, then SIGKILL whatever of it is left."""
    tree = process_tree(processes)
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    for process in processes.values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    for leftover in tree:  # a child that left its process group
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()


def start(
    name: str, command: list[str], env: dict[str, str], cwd: Path, logs: Path
) -> subprocess.Popen[bytes]:
    """Start a component with its output in ``logs/<name>.log``, in its own process group."""
    with (logs / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,  # its own process group, to stop it as a whole
        )


@pytest.fixture
def deployment(
    tmp_path: Path, stripe_server: FakeStripe, request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    home, dags, output = tmp_path / "home", tmp_path / "dags", tmp_path / "output"
    (home / "components").mkdir(parents=True)
    shutil.copytree(ROOT / "example_dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    password = secrets.token_urlsafe(16)
    password_file = home / "passwords.json"
    password_file.write_text(json.dumps({"admin": password}))
    port = free_port()
    env = airflow_env(home, dags, output, port, stripe_server.url, password_file)
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run(
        [*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600, cwd=tmp_path
    )
    commands = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        # Serving logs would listen on 0.0.0.0:8793; the API server reads them from local files.
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
    }
    deployment = Deployment(home, output, f"http://127.0.0.1:{port}", {})
    try:
        with deployment.print_logs_on_failure():
            for name, command in commands.items():
                deployment.processes[name] = start(
                    name, [*airflow, *command], env, tmp_path, home / "components"
                )
            deployment.sign_in(password)
        failed = request.session.testsfailed
        yield deployment
        if request.session.testsfailed > failed:  # the test failed (its report comes before teardown)
            deployment.print_logs()
    finally:
        stop(deployment.processes)


def seed(server: FakeStripe, now: pendulum.DateTime) -> None:
    """Customers around yesterday's boundaries, today, 40 days ago and (for the upper bound) in the future."""
    today = now.start_of("day")
    yesterday = today.subtract(days=1)
    server.seed(48, start=yesterday.int_timestamp, spacing=1800)  # yesterday 00:00 … 23:30
    server.seed(1, start=today.int_timestamp - 1)  # yesterday 23:59:59
    server.seed(3, start=yesterday.int_timestamp - 3, spacing=1)  # the day before, last seconds
    server.seed(3, start=today.int_timestamp, spacing=1)  # today's first seconds
    server.seed(3, start=now.subtract(days=40).int_timestamp, spacing=60)
    server.seed(2, start=now.add(hours=1).int_timestamp, spacing=60)  # after any trigger
    # Revenue: yesterday's invoices (one with 250 lines), subscriptions of every status, charges.
    day = {"start": yesterday.int_timestamp, "spacing": 3600}
    server.seed_objects("invoices", 12, embedded={"lines": 25}, **day)
    server.seed_objects("invoices", 1, start=yesterday.int_timestamp + 60, embedded={"lines": 250})
    server.seed_objects("subscriptions", 6, status=lambda i: ("active", "canceled")[i % 2], **day)
    server.seed_objects("charges", 9, **day)
    # Connect: two connected accounts with customers and charges of their own.
    for index, account in enumerate(("acct_deployA", "acct_deployB")):
        server.connect_account(account, created=yesterday.int_timestamp + index)
        server.seed(4 + index, account=account)
        server.seed_objects("charges", 3 + index, account=account)


def created_in(server: FakeStripe, start: pendulum.DateTime, end: pendulum.DateTime) -> list[dict[str, Any]]:
    """The customers created in ``[start, end)``, newest first (Stripe's order)."""
    return [
        c for c in server.store().newest_first() if start.int_timestamp <= c["created"] < end.int_timestamp
    ]


def read_jsonl_gz(path: Path) -> list[dict[str, Any]]:
    import gzip

    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode().splitlines()]


def backfill_output(range_folder: Path) -> tuple[list[str], list[str]]:
    """The backfill's window files under a range's folder (any run), and the sorted ids they hold."""
    files = sorted(range_folder.rglob("window-*.jsonl.gz"))
    return [f.name for f in files], sorted(c["id"] for f in files for c in read_jsonl_gz(f))


def warehouse(deployment: Deployment) -> dict[str, dict[str, Any]]:
    """The synced customers table of the sync example, by id."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(deployment.home / "wh.db")) as db:
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, data FROM customers")}


def wait_for_dags(deployment: Deployment, dag_ids: tuple[str, ...], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        answer = deployment.session.get(f"{deployment.url}/api/v2/dags", params={"limit": 100}, timeout=30)
        known = {dag["dag_id"] for dag in answer.json().get("dags", [])} if answer.ok else set()
        if set(dag_ids) <= known:
            return
        assert time.monotonic() < deadline, f"the dag processor did not register {set(dag_ids) - known}"
        time.sleep(1)


def wait_for_runs(deployment: Deployment, runs: dict[str, str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll until every ``{dag_id: run_id}`` has finished; return each run as the API shows it."""
    deadline = time.monotonic() + timeout
    finished: dict[str, dict[str, Any]] = {}
    while len(finished) < len(runs):
        for dag_id, run_id in runs.items():
            if dag_id not in finished:
                run = deployment.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
                if run["state"] in ("success", "failed"):
                    finished[dag_id] = run
        for name, process in deployment.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"
        if time.monotonic() > deadline:
            pending = {d: deployment.api("GET", f"/dags/{d}/dagRuns/{r}")["state"] for d, r in runs.items()}
            raise AssertionError(f"runs still not finished after {timeout:.0f} s: {pending}")
        time.sleep(1)
    return finished


def test_examples_triggered_by_hand_in_a_real_deployment(deployment: Deployment, stripe_server: FakeStripe):
    now = pendulum.now("UTC")
    seed(stripe_server, now)
    wait_for_dags(deployment, TRIGGERED)
    # The Connect fan-out shares one budget through this pool; it must exist before its tasks run.
    deployment.api("POST", "/pools", json={"name": "stripe_api", "slots": 4, "description": "Stripe API"})
    for dag_id in TRIGGERED:
        assert deployment.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})["is_paused"] is False

    yesterday = now.start_of("day").subtract(days=1)
    backfill = {"start": yesterday.isoformat(), "end": yesterday.add(days=1).isoformat(), "windows": 3}
    triggered = {
        dag_id: deployment.api(
            "POST",
            f"/dags/{dag_id}/dagRuns",
            json={"logical_date": None, "conf": backfill if dag_id == "stripe_backfill_windows" else {}},
        )
        for dag_id in TRIGGERED
    }
    for run in triggered.values():  # no logical date, so no data interval
        assert (run["logical_date"], run["data_interval_start"], run["run_type"]) == (
            None,
            None,
            "manual",
        )

    # The nightly sensor waits until 00:05 UTC for yesterday; give a run near midnight that long too.
    settled = now.start_of("day").add(minutes=6)
    timeout = RUN_TIMEOUT + max(0.0, (settled - pendulum.now("UTC")).total_seconds())
    runs = wait_for_runs(
        deployment, {dag_id: run["dag_run_id"] for dag_id, run in triggered.items()}, timeout
    )
    assert {dag_id: run["state"] for dag_id, run in runs.items()} == dict.fromkeys(TRIGGERED, "success")

    # Backfill: three windows of yesterday, no pool needed. Then the same range with two
    # windows, run while the checks below go on: it must replace the three (checked later).
    backfilled = sorted(c["id"] for c in created_in(stripe_server, yesterday, yesterday.add(days=1)))
    backfill_range = (
        deployment.output
        / "backfill"
        / "_".join(f"{t:%Y%m%dT%H%M%SZ}" for t in (yesterday, yesterday.add(days=1)))
    )
    assert backfill_output(backfill_range) == ([f"window-{i:04d}.jsonl.gz" for i in range(3)], backfilled)
    rerun = deployment.api(
        "POST",
        "/dags/stripe_backfill_windows/dagRuns",
        json={"logical_date": None, "conf": {**backfill, "windows": 2}},
    )

    # Nightly, no logical date: the previous full UTC day before run_after, exactly.
    nightly = runs["stripe_nightly_export"]
    end = pendulum.parse(nightly["run_after"]).in_tz("UTC").start_of("day")
    expected = created_in(stripe_server, end.subtract(days=1), end)
    path = (
        deployment.output
        / "customers"
        / f"date={end.subtract(days=1).to_date_string()}"
        / "customers.jsonl.gz"
    )
    assert expected and read_jsonl_gz(path) == expected
    assert deployment.xcom("stripe_nightly_export", nightly["dag_run_id"], "report") == len(expected)

    # The run the scheduler created on unpausing: its data interval, the same day.
    scheduled = deployment.api("GET", "/dags/stripe_nightly_export/dagRuns", params={"run_type": "scheduled"})
    assert scheduled["total_entries"] == 1
    scheduled_run = wait_for_runs(
        deployment, {"stripe_nightly_export": scheduled["dag_runs"][0]["dag_run_id"]}, timeout
    )["stripe_nightly_export"]
    assert scheduled_run["state"] == "success"
    scheduled_start = pendulum.parse(scheduled_run["data_interval_start"])
    assert pendulum.parse(scheduled_run["data_interval_end"]) == scheduled_start.add(days=1)
    assert deployment.xcom("stripe_nightly_export", scheduled_run["dag_run_id"], "report") == len(
        created_in(stripe_server, scheduled_start, scheduled_start.add(days=1))
    )

    # TaskFlow: the 30 days before run_after, run_after excluded; one XCom.
    taskflow = runs["stripe_taskflow_hook"]
    until = pendulum.parse(taskflow["run_after"])
    counts: dict[str, int] = {}
    for customer in created_in(stripe_server, until.subtract(days=30), until):
        counts[customer["address"]["country"]] = counts.get(customer["address"]["country"], 0) + 1
    assert deployment.xcom("stripe_taskflow_hook", taskflow["dag_run_id"], "customers_by_country") == counts
    xcoms = deployment.api(
        "GET",
        f"/dags/stripe_taskflow_hook/dagRuns/{taskflow['dag_run_id']}/taskInstances/customers_by_country/xcomEntries",
    )
    assert [x["key"] for x in xcoms["xcom_entries"]] == ["return_value"]

    # The backfill's rerun: only its two windows are left, each customer in them once.
    rerun_state = wait_for_runs(deployment, {"stripe_backfill_windows": rerun["dag_run_id"]}, RUN_TIMEOUT)
    assert rerun_state["stripe_backfill_windows"]["state"] == "success"
    assert backfill_output(backfill_range) == (["window-0000.jsonl.gz", "window-0001.jsonl.gz"], backfilled)
    (run_folder,) = (p for p in backfill_range.iterdir() if p.is_dir())
    assert (backfill_range / "CURRENT").read_text() == run_folder.name

    # Revenue, no logical date: yesterday's objects, every invoice line, canceled subscriptions too.
    revenue = deployment.output / "revenue" / f"date={yesterday.to_date_string()}"
    for path in ("invoices", "subscriptions", "charges"):
        stored = stripe_server.objects_now(path)
        expected = sorted(stored.values(), key=lambda o: (o["created"], o["id"]), reverse=True)
        assert read_jsonl_gz(revenue / f"{path}.jsonl.gz") == expected, path
    run_id = runs["stripe_revenue_export"]["dag_run_id"]
    assert deployment.xcom("stripe_revenue_export", run_id, "check_invoice_lines") == 12 * 25 + 250

    # Connect: each account's customers and charges in its own files, every record tagged.
    for account in ("acct_deployA", "acct_deployB"):
        for path in ("customers", "charges"):
            stored = stripe_server.objects_now(path, account=account)
            expected = sorted(stored.values(), key=lambda o: (o["created"], o["id"]), reverse=True)
            written = read_jsonl_gz(deployment.output / "connect" / account / f"{path}.jsonl.gz")
            assert written == [{**record, "_stripe_account": account} for record in expected], (account, path)

    # List then get: the ten newest customers, each fetched once.
    gets = [
        r["path"].rsplit("/", 1)[1] for r in stripe_server.requests if r["path"].startswith("/v1/customers/")
    ]
    assert sorted(gets) == sorted(c["id"] for c in stripe_server.store().newest_first()[:10])

    # Sync: the first run took a snapshot; after creates, updates and deletes a new run merges them.
    sync_runs = deployment.api("GET", "/dags/stripe_customers_sync/dagRuns")["dag_runs"]
    for sync_run in sync_runs:  # the manual run, and a scheduled one if unpausing made it
        finished = wait_for_runs(deployment, {"stripe_customers_sync": sync_run["dag_run_id"]}, RUN_TIMEOUT)
        assert finished["stripe_customers_sync"]["state"] == "success"
    assert warehouse(deployment) == stripe_server.customers_now()
    time.sleep(1.1)
    ids = list(stripe_server.store().index)
    for customer_id in ids[:6]:
        stripe_server.update_customer(customer_id, email=f"{customer_id}@moved.example.com")
    stripe_server.delete_customer(ids[6])
    stripe_server.create_customer(email="fresh@example.com")
    time.sleep(1.1)
    sync = deployment.api(
        "POST",
        "/dags/stripe_customers_sync/dagRuns",
        json={"logical_date": None, "conf": {"settle_seconds": 0}},
    )
    run = wait_for_runs(deployment, {"stripe_customers_sync": sync["dag_run_id"]}, RUN_TIMEOUT)
    assert run["stripe_customers_sync"]["state"] == "success"
    assert deployment.xcom("stripe_customers_sync", sync["dag_run_id"], "merge")["deletes"] == 1
    assert warehouse(deployment) == stripe_server.customers_now()

    # Nothing the deployment started listens beyond loopback.
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in {p.pid for p in process_tree(deployment.processes)}
    }
    assert listening and all(ip == "127.0.0.1" for ip, _ in listening), listening
