"""The list operator writing to s3:// through ObjectStoragePath and the Amazon provider,
against moto's S3-compatible server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import task_results
from tests.stripe_server import FakeStripe, Fault

BUCKET = "stripe-exports"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(moto_url: str, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_MOTO",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": moto_url, "region_name": "us-east-1"},
            }
        ),
    )
    client = boto3.client(
        "s3",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


DAG = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_stripe.operators import StripeListCustomersOperator
with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
    StripeListCustomersOperator(
        task_id="to_s3", page_size=100, output_conn_id="aws_moto",
        output_path="s3://stripe-exports/customers/all.jsonl.gz",
    )
"""


def test_list_operator_writes_to_s3(stripe_conn: FakeStripe, s3, run_dag):
    customers = stripe_conn.seed(1234)
    dag_run, _ = run_dag(DAG)
    result = task_results(dag_run)["to_s3"]
    # The URI names the connection, so ObjectStoragePath(result["path"]) reads it back downstream.
    assert result == (
        "success",
        {
            "path": "s3://aws_moto@stripe-exports/customers/all.jsonl.gz",
            "records": 1234,
            "format": "jsonl",
            "has_more": False,
        },
    )
    body = s3.get_object(Bucket=BUCKET, Key="customers/all.jsonl.gz")["Body"].read()
    assert [json.loads(line) for line in gzip.decompress(body).decode().splitlines()] == customers
    assert keys(s3) == ["customers/all.jsonl.gz"]


def test_s3_failure_keeps_the_previous_object_and_leaves_no_temporary(stripe_conn: FakeStripe, s3, run_dag):
    stripe_conn.seed(500)
    s3.put_object(Bucket=BUCKET, Key="customers/all.jsonl.gz", Body=b"previous export")
    stripe_conn.faults.extend([Fault(), Fault(), Fault(status=500, headers={"Stripe-Should-Retry": "false"})])
    dag_run, _ = run_dag(DAG)
    assert task_results(dag_run)["to_s3"][0] == "failed"
    assert s3.get_object(Bucket=BUCKET, Key="customers/all.jsonl.gz")["Body"].read() == b"previous export"
    assert keys(s3) == ["customers/all.jsonl.gz"]


def test_backfill_example_reruns_on_s3_beside_folder_markers(
    stripe_conn: FakeStripe, s3, run_dag, monkeypatch, moto_url: str
):
    """The backfill example's publish on S3, where tools leave a zero-byte ``folder/`` object per folder.

    ``iterdir`` then lists the marker among a folder's entries; publish must delete only what it
    owns and still leave exactly the rerun's windows, which ``CURRENT`` names.
    """
    from pathlib import Path

    import pendulum

    # The example's paths carry no connection, so storage is reached as s3fs finds it by
    # itself: here through the environment, at moto on 127.0.0.1 (never AWS).
    for name, value in (("AWS_ENDPOINT_URL", moto_url), ("AWS_ACCESS_KEY_ID", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AIRFLOW_VAR_STRIPE_EXPORT_BASE", f"s3://{BUCKET}")
    start = pendulum.datetime(2024, 1, 1, tz="UTC")
    customers = stripe_conn.seed(100, start=start.int_timestamp, spacing=864)
    conf = {"start": start.isoformat(), "end": start.add(days=1).isoformat()}
    example = Path(__file__).parent.parent / "example_dags" / "stripe_backfill_windows.py"
    first, dag = run_dag(
        example.read_text().replace('"stripe_backfill_windows"', '"DAG_ID"'),
        logical_date=None,
        run_conf={**conf, "windows": 4},
    )
    assert first.state == "success", task_results(first)
    for key in keys(s3):  # what the S3 console's "Create folder" leaves behind
        parts = key.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            s3.put_object(Bucket=BUCKET, Key="/".join(parts[:depth]) + "/", Body=b"")
    second = dag.test(logical_date=None, run_conf={**conf, "windows": 2})
    assert second.state == "success", task_results(second)
    range_prefix = "backfill/20240101T000000Z_20240102T000000Z/"
    current = s3.get_object(Bucket=BUCKET, Key=range_prefix + "CURRENT")["Body"].read().decode()
    windows = [k for k in keys(s3) if k.endswith(".jsonl.gz")]
    assert windows == [f"{range_prefix}{current}/window-000{i}.jsonl.gz" for i in range(2)], keys(s3)
    records = [
        json.loads(line)
        for key in windows
        for line in gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        .decode()
        .splitlines()
    ]
    assert sorted(r["id"] for r in records) == sorted(c["id"] for c in customers)
    assert not [k for k in keys(s3) if "partial" in k or ("/run=" in k and current not in k)], keys(s3)
