"""The backfill example spread over two Celery workers: a real distributed run.

``stripe_backfill_windows`` under Airflow's ``CeleryExecutor``: a Redis broker, a
PostgreSQL metadata database (also Celery's result backend), ``airflow api-server``,
``scheduler``, ``dag-processor`` and two ``airflow celery worker`` processes, each
with a hostname of its own, all started here on 127.0.0.1 (ephemeral ports, data
under ``tmp_path``) and stopped at the end. Redis and PostgreSQL are Debian's
(``make test-celery`` installs them when missing); PostgreSQL refuses to run as
root, so as root it runs as the ``postgres`` user.

The fake Stripe server holds one account limit (25 requests/s) for every window of
every worker. The run must put windows on both workers, export exactly what one
process exporting the whole range does, and be answered with almost no 429.

Run it with ``make test-celery`` (it is excluded from the default ``pytest`` run).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import psutil
import pytest

from tests.conftest import conn_json, free_port
from tests.stripe_server import FakeStripe
from tests.test_deployment import (
    Deployment,
    airflow_env,
    created_in,
    process_tree,
    read_jsonl_gz,
    start,
    stop,
    wait_for_dags,
    wait_for_runs,
)

pytestmark = [pytest.mark.celery, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "stripe_backfill_windows"
START = pendulum.datetime(2025, 3, 1, tz="UTC")
END = START.add(days=1)
WINDOWS = 8
# split_created's windows of [START, END): Unix seconds, each window from one edge to the next.
EDGES = [
    START.int_timestamp + (END.int_timestamp - START.int_timestamp) * i // WINDOWS for i in range(WINDOWS)
] + [END.int_timestamp]
CUSTOMERS = 24000
ACCOUNT_LIMIT = 25  # requests per second, for the whole account: every window of every worker
WORKERS = ("worker1", "worker2")
CONCURRENCY = 2  # task slots per worker: together the DAG's max_active_tis_per_dagrun=4
RUN_TIMEOUT = 300.0
# Each worker's tasks report this hostname (the REST API's task instance ``hostname``), as two
# machines would: both workers run on this one.
HOSTNAME_MODULE = '''"""The Celery worker's name as its tasks' hostname ([core] hostname_callable)."""
import os


def hostname():
    return os.environ["STRIPE_TEST_WORKER"]
'''


class CeleryDeployment(Deployment):
    """A deployment with its services (Redis, PostgreSQL) and the port each component listens on."""

    services: dict[str, subprocess.Popen[bytes]]
    ports: dict[str, int]


def postgres_bin() -> Path:
    """Debian's PostgreSQL binaries, the newest major version installed."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError("no /usr/lib/postgresql/*/bin/postgres: `make test-celery` installs postgresql")
    return found[-1].parent


def as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root. As root, run it as ``postgres``, allowed to reach (only to
    search and read, never to write) its data directory through pytest's private 0700 directories."""
    if os.geteuid() != 0:
        return []
    caps = ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *caps, "--"]


def owned_by_postgres(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def wait_for(what: str, ready: Any, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {process.poll()})")
        time.sleep(0.2)


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def postgres_answers(port: int, password: str) -> bool:
    import psycopg2

    try:
        psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres"
        ).close()
        return True
    except psycopg2.OperationalError:
        return False


def start_services(root: Path, logs: Path, deployment: CeleryDeployment) -> tuple[str, str]:
    """Redis and PostgreSQL on 127.0.0.1; return the broker URL and the database's user:password@host:port/db."""
    processes = deployment.services
    import psycopg2

    env = dict(os.environ)
    redis_port = free_port()
    redis_dir = root / "redis"
    redis_dir.mkdir()
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    command = [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--dir", str(redis_dir)]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]  # nothing kept
    processes["redis"] = start("redis", command, env, redis_dir, logs)
    wait_for("redis-server", lambda: redis_answers(redis_port), processes["redis"])

    pg_root = owned_by_postgres(root / "postgres")
    sockets = owned_by_postgres(pg_root / "socket")
    superuser_password, airflow_password = secrets.token_hex(16), secrets.token_hex(16)
    password_file = pg_root / "superuser-password"
    password_file.write_text(superuser_password + "\n")
    if os.geteuid() == 0:
        shutil.chown(password_file, "postgres", "postgres")
    bin_dir, pg_port = postgres_bin(), free_port()
    command = [*as_postgres_user(), str(bin_dir / "initdb"), "-D", str(pg_root / "data"), "-U", "postgres"]
    command += ["--auth=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--no-locale", "--no-sync"]
    subprocess.run(
        command,
        env=env,
        cwd=pg_root,
        check=True,
        capture_output=True,
        timeout=120,
    )
    settings = {
        "listen_addresses": "127.0.0.1",
        "max_connections": "200",
        "fsync": "off",  # a throwaway database
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    command = [*as_postgres_user(), str(bin_dir / "postgres"), "-D", str(pg_root / "data")]
    command += ["-p", str(pg_port), "-k", str(sockets)]
    command += [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
    processes["postgres"] = start("postgres", command, env, pg_root, logs)
    wait_for("postgres", lambda: postgres_answers(pg_port, superuser_password), processes["postgres"])
    with contextlib.closing(
        psycopg2.connect(
            host="127.0.0.1", port=pg_port, user="postgres", password=superuser_password, dbname="postgres"
        )
    ) as db:
        db.autocommit = True
        with db.cursor() as cursor:
            cursor.execute(f"CREATE ROLE airflow LOGIN PASSWORD '{airflow_password}'")
            cursor.execute("CREATE DATABASE airflow OWNER airflow")
    deployment.ports |= {"redis": redis_port, "postgres": pg_port}
    return f"redis://127.0.0.1:{redis_port}/0", f"airflow:{airflow_password}@127.0.0.1:{pg_port}/airflow"


@pytest.fixture
def celery_deployment(
    tmp_path: Path, stripe_server: FakeStripe, request: pytest.FixtureRequest
) -> Iterator[CeleryDeployment]:
    home, dags, output = tmp_path / "home", tmp_path / "dags", tmp_path / "output"
    logs = home / "components"  # every component's log, printed when the test fails
    logs.mkdir(parents=True)
    shutil.copytree(ROOT / "example_dags", dags, ignore=shutil.ignore_patterns("__pycache__"))
    password = secrets.token_urlsafe(16)
    password_file = home / "passwords.json"
    password_file.write_text(json.dumps({"admin": password}))
    port = free_port()
    deployment = CeleryDeployment(home, output, f"http://127.0.0.1:{port}", {})
    deployment.services, deployment.ports = {}, {"api-server": port}
    try:
        with deployment.print_logs_on_failure():
            broker, database = start_services(tmp_path, logs, deployment)
            env = airflow_env(home, dags, output, port, stripe_server.url, password_file) | {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database}",
                "AIRFLOW__CELERY__BROKER_URL": broker,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{database}",
            }
            airflow = [sys.executable, "-m", "airflow"]
            with (logs / "db-migrate.log").open("wb") as log:
                subprocess.run(
                    [*airflow, "db", "migrate"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=600,
                    cwd=tmp_path,
                )
            site = tmp_path / "worker-site"
            site.mkdir()
            (site / "stripe_test_worker.py").write_text(HOSTNAME_MODULE)
            worker_env = env | {
                "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "stripe_test_worker.hostname",
            }
            commands = {
                "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                # Serving logs would listen on 0.0.0.0:8793; the API server reads them from local files.
                "scheduler": ["scheduler", "--skip-serve-logs"],
                "dag-processor": ["dag-processor"],
            }
            for name, command in commands.items():
                deployment.processes[name] = start(name, [*airflow, *command], env, tmp_path, logs)
            for name in WORKERS:
                command = ["celery", "worker", "--celery-hostname", f"{name}@%h"]
                command += ["--concurrency", str(CONCURRENCY), "--skip-serve-logs"]
                command += ["--pid", str(home / f"{name}.pid")]
                deployment.processes[name] = start(
                    name, [*airflow, *command], worker_env | {"STRIPE_TEST_WORKER": name}, tmp_path, logs
                )
            deployment.sign_in(password)
            for name in WORKERS:  # both consume from the queue before anything is queued
                wait_for(
                    f"the Celery worker {name}",
                    lambda name=name: re.search(
                        rf"{name}@\S+ ready\.", (logs / f"{name}.log").read_text(errors="replace")
                    ),
                    deployment.processes[name],
                    timeout=120,
                )
        failed = request.session.testsfailed
        yield deployment
        if request.session.testsfailed > failed:  # the test failed (its report comes before teardown)
            deployment.print_logs()
    finally:
        stop(deployment.processes)
        stop(deployment.services)  # after their clients


def seed(server: FakeStripe) -> None:
    """The day's customers, evenly spread, one on every window edge (the last, END, is outside the
    range), one in the range's last second, and some on either side of the range."""
    start, end = START.int_timestamp, END.int_timestamp
    server.seed(CUSTOMERS, created=[start + 7 + (end - start - 7) * i // CUSTOMERS for i in range(CUSTOMERS)])
    server.seed(len(EDGES), created=EDGES)
    server.seed(1, created=[end - 1])
    server.seed(20, start=start - 20, spacing=1)  # the day before, last seconds
    server.seed(20, start=end, spacing=1)  # the day after, first seconds


def test_backfill_windows_spread_over_two_celery_workers(
    celery_deployment: CeleryDeployment, stripe_server: FakeStripe, monkeypatch: pytest.MonkeyPatch
):
    deployment = celery_deployment
    seed(stripe_server)
    stripe_server.rate_limit = ACCOUNT_LIMIT
    stripe_server.latency = 0.05
    wait_for_dags(deployment, (DAG_ID,))
    assert deployment.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})["is_paused"] is False
    conf = {"start": START.isoformat(), "end": END.isoformat(), "windows": WINDOWS}
    run = deployment.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
    started = time.monotonic()
    finished = wait_for_runs(deployment, {DAG_ID: run["dag_run_id"]}, RUN_TIMEOUT)[DAG_ID]
    took = time.monotonic() - started
    assert finished["state"] == "success"

    # What the server saw, before the single-process export below adds to it.
    requests = list(stripe_server.requests)
    limited = dict(stripe_server.limited_by)
    times = [r["time"] for r in requests]
    busiest = max(sum(1 for u in times if t <= u < t + 1) for t in times)  # in any one second
    tis = deployment.api(
        "GET", f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances", params={"limit": 100}
    )["task_instances"]
    windows = sorted((ti for ti in tis if ti["task_id"] == "export_window"), key=lambda ti: ti["map_index"])
    by_worker = Counter(ti["hostname"] for ti in windows)
    print(
        f"\nrun: {took:.1f} s; {len(requests)} requests, 429s by reason {limited or 'none'}, "
        f"at most {busiest} in one second; windows per worker {dict(by_worker)}; windows: "
        + ", ".join(f"{ti['map_index']}@{ti['hostname']} {ti['duration'] or 0:.1f} s" for ti in windows)
    )

    # (a) The windows ran on both workers, each task on the worker whose hostname it reports.
    assert [ti["map_index"] for ti in windows] == list(range(WINDOWS))
    assert all(ti["state"] == "success" and ti["try_number"] == 1 for ti in windows), windows
    assert set(by_worker) == set(WORKERS), by_worker
    for name in WORKERS:  # each worker's own log names the task instances it executed
        log = (deployment.home / "components" / f"{name}.log").read_text(errors="replace")
        ran = {ti["id"] for ti in windows if ti["id"] in log}
        assert ran == {ti["id"] for ti in windows if ti["hostname"] == name}, name

    # (b) The windows, newest first, are exactly the range's customers, each once, and exactly
    # what one process exporting the whole range gets.
    planned = deployment.xcom(DAG_ID, run["dag_run_id"], "plan")
    created = [window["created"] for window in planned]
    assert created == [{"gte": EDGES[i], "lt": EDGES[i + 1]} for i in range(WINDOWS)]
    range_folder = deployment.output / "backfill" / f"{START:%Y%m%dT%H%M%SZ}_{END:%Y%m%dT%H%M%SZ}"
    folder = range_folder / (range_folder / "CURRENT").read_text()  # the run's folder, published
    files = sorted(folder.glob("*"))
    assert [f.name for f in files] == [f"window-{i:04d}.jsonl.gz" for i in range(WINDOWS)]
    exported = [read_jsonl_gz(f) for f in files]
    for window, records in zip(created, exported, strict=True):
        assert records and all(window["gte"] <= c["created"] < window["lt"] for c in records), window
    union = [customer for records in reversed(exported) for customer in records]
    expected = created_in(stripe_server, START, END)
    assert len(expected) == CUSTOMERS + WINDOWS + 1  # the day's, the edges but the last, 23:59:59
    assert len({c["id"] for c in union}) == len(union)
    assert union == expected

    stripe_server.rate_limit, stripe_server.latency = None, 0.0  # the reference export, unthrottled
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=0))
    from airflow_provider_stripe.hooks.stripe import StripeHook

    single = list(StripeHook().iter_customers(created={"gte": conf["start"], "lt": conf["end"]}))
    assert union == single

    # (c) One account limit for everyone: at most 2 % of the requests were answered 429.
    assert sum(limited.values()) <= 0.02 * len(requests), (limited, len(requests))

    # (d) Nothing the deployment started listens beyond loopback: Redis, PostgreSQL and the API
    # server listen there, the workers and the scheduler serve no logs.
    pids = {p.pid for p in process_tree({**deployment.processes, **deployment.services})}
    listening = {
        (c.laddr.ip, c.laddr.port)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    }
    assert all(ip == "127.0.0.1" for ip, _ in listening), listening
    assert set(deployment.ports.values()) <= {port for _, port in listening}, (deployment.ports, listening)
