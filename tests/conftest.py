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
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent.parent)
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}")

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
    monkeypatch.setattr("airflow_provider_stripe.client.INITIAL_BACKOFF", 0.01)
    return stripe_server
