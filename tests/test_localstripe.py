"""Interoperability with localstripe, a Stripe emulator we did not write.

localstripe differs from Stripe in ways this test works around (our own server in
``tests/stripe_server.py`` covers each of these the way Stripe behaves):

- it lists oldest first (Stripe: newest first), so results are compared with
  localstripe's own listing, not with a sorted expectation, and the runner gives
  every customer the same ``created`` second (pages going up in ``created`` are
  refused, as from a server cycling through its pages);
- it answers 400 to ``ending_before``, ``created`` and ``test_clock``, so those
  are not exercised here;
- it accepts ``limit`` above 100 (Stripe: 400); our hook never sends more than 100;
- it answers 404 for a deleted customer (Stripe: 200 with ``"deleted": true``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from airflow_provider_stripe.exceptions import StripeNotFoundError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import conn_json, free_port, task_results, wait_until_serving

KEY = "sk_test_localstripe123"
RUNNER = Path(__file__).resolve().parent / "localstripe_runner.py"


@pytest.fixture(scope="module")
def localstripe(tmp_path_factory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("localstripe")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(RUNNER), str(port), str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/v1/customers", process, timeout=30, what="localstripe")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def created(localstripe: str) -> list[dict]:
    customers = []
    for i in range(23):
        response = requests.post(
            f"{localstripe}/v1/customers",
            auth=(KEY, ""),
            data={"email": f"person{i % 20}@example.com", "name": f"Person Ünï {i}", "metadata[i]": str(i)},
            timeout=10,
        )
        response.raise_for_status()
        customers.append(response.json())
    return customers


def held(localstripe: str) -> list[dict]:
    """Everything localstripe holds, in its own list order."""
    return requests.get(
        f"{localstripe}/v1/customers", params={"limit": 1000}, auth=(KEY, ""), timeout=10
    ).json()["data"]


@pytest.fixture
def hook(localstripe: str, monkeypatch) -> StripeHook:
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(localstripe, key=KEY, max_requests_per_second=0)
    )
    return StripeHook()


def test_list_limit_and_starting_after(hook: StripeHook, localstripe: str, created):
    everything = held(localstripe)
    assert {c["id"] for c in everything} == {c["id"] for c in created}
    page = hook.list_customers(limit=5)
    assert page["object"] == "list" and page["has_more"] is True
    assert page["data"] == everything[:5]
    after = hook.list_customers(limit=4, starting_after=everything[5]["id"])
    assert after["data"] == everything[6:10]


def test_iter_customers_reads_everything_exactly_once(hook: StripeHook, localstripe: str, created):
    iterator = hook.iter_customers(page_size=3)
    got = list(iterator)
    assert got == held(localstripe)
    assert iterator.pages == 8 and len({c["id"] for c in got}) == 23


def test_email_filter(hook: StripeHook, created):
    assert [c["id"] for c in hook.iter_customers(email="person1@example.com")] == [
        c["id"] for c in created if c["email"] == "person1@example.com"
    ]


def test_get_and_unknown(hook: StripeHook, created):
    assert hook.get_customer(created[3]["id"]) == created[3]
    with pytest.raises(StripeNotFoundError) as info:
        hook.get_customer("cus_doesnotexist")
    assert info.value.http_status == 404


def test_test_connection(hook: StripeHook, localstripe: str, monkeypatch):
    ok, message = hook.test_connection()
    assert ok and "test mode" in message and localstripe in message


def test_operators_under_dag_test(localstripe: str, created, run_dag, monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(localstripe, key=KEY, max_requests_per_second=0)
    )
    dag_run, _ = run_dag(
        f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_provider_stripe.operators import StripeGetCustomerOperator, StripeListCustomersOperator
        with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
            StripeListCustomersOperator(task_id="to_file", page_size=7, output_path="{tmp_path}/all.jsonl")
            StripeListCustomersOperator(task_id="by_email", email="person2@example.com")
            StripeGetCustomerOperator(task_id="get", customer_id="{created[0]["id"]}")
        """
    )
    results = task_results(dag_run)
    assert dag_run.state == "success", results
    lines = (tmp_path / "all.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == held(localstripe)
    assert results["to_file"][1]["records"] == 23
    assert [c["id"] for c in results["by_email"][1]["data"]] == [
        c["id"] for c in created if c["email"] == "person2@example.com"
    ]
    assert results["get"][1] == created[0]
