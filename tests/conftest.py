"""Shared fixtures: an isolated Airflow home, the fake Stripe server, and connections."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="stripe-provider-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
DAGS_FOLDER = _AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir()
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}")

import importlib.util  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from tests.stripe_server import DEFAULT_KEY, FakeStripe  # noqa: E402

AIRFLOW_HOME = _AIRFLOW_HOME


@pytest.fixture
def stripe_server() -> Iterator[FakeStripe]:
    """A fresh Stripe-compatible server on 127.0.0.1, ephemeral port."""
    server = FakeStripe().start()
    try:
        yield server
    finally:
        server.stop()


def conn_json(server_url: str, key: str = DEFAULT_KEY, **extra: object) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value pointing at a server."""
    return json.dumps({"conn_type": "stripe", "password": key, "host": server_url, "extra": extra})


@pytest.fixture
def stripe_conn(stripe_server: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> FakeStripe:
    """``stripe_default`` pointing at the fake server, with pacing and backoff out of the way."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT",
        conn_json(stripe_server.url, max_requests_per_second=0, max_retry_wait=30),
    )
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    return stripe_server


@pytest.fixture
def stripe_env(stripe_server: FakeStripe, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeStripe:
    """``stripe_default`` for tasks under ``dag.test()``, and ``STRIPE_TEST_OUT`` for their files."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT",
        conn_json(stripe_server.url, max_requests_per_second=0, max_retry_wait=5),
    )
    monkeypatch.setenv("STRIPE_TEST_OUT", str(tmp_path))
    monkeypatch.setattr("airflow_provider_stripe.api.retries.INITIAL_BACKOFF", 0.01)
    return stripe_server


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database (once per test session)."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, timeout=600
    )
    return _AIRFLOW_HOME


@pytest.fixture
def run_dag(airflow_db: Path, request: pytest.FixtureRequest):
    """Write a DAG file into the dags folder, import it, and run it with ``dag.test()``.

    ``run_dag(source, **test_kwargs)`` returns ``(dag_run, dag)``. The source must
    define exactly one DAG whose id is the file name (derived from the test name).
    """
    from tests.airflow_compat import reuse_one_execution_api

    reuse_one_execution_api()
    written: list[Path] = []

    def run(source: str, **test_kwargs: Any):
        dag_id = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:150]
        path = DAGS_FOLDER / f"{dag_id}_{len(written)}.py"
        path.write_text(textwrap.dedent(source).replace("DAG_ID", f"{dag_id}_{len(written)}"))
        written.append(path)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        dag = module.dag
        return dag.test(**test_kwargs), dag

    yield run
    for path in written:
        path.unlink()


def task_results(dag_run: Any) -> dict[str, Any]:
    """``{task_id or task_id[map_index]: (state, return_value)}`` for every task instance of a run."""
    results = {}
    for ti in dag_run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        value = ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index) if ti.state == "success" else None
        results[key] = (str(ti.state), value)
    return results


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[Any], *, timeout: float, what: str) -> None:
    """Poll ``url`` until it answers over HTTP; fail clearly if ``process`` exits or time runs out."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start (exit code {process.poll()})") from None
            time.sleep(0.2)
