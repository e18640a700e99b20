"""Nightly incremental export: the customers created in each data interval, to object storage.

Every run lists exactly the customers created in ``[data_interval_start,
data_interval_end)`` (half-open, so a customer created on the boundary second
lands in exactly one night's file) and writes them as gzipped JSON Lines under a
per-interval path, five minutes after the interval closes. A downstream task
reads the file back and reports the count.

Configure the destination with the Airflow Variable ``stripe_export_base``
(e.g. ``s3://my-bucket/stripe`` with ``stripe_export_conn_id``); the default is
local files under ``/tmp/stripe-exports``.
"""

from __future__ import annotations

import gzip
import json

import pendulum
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor
from airflow.sdk import DAG, CronDataIntervalTimetable, ObjectStoragePath, task

from airflow_provider_stripe.operators import StripeListCustomersOperator

with DAG(
    dag_id="stripe_nightly_export",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["stripe", "example"],
    doc_md=__doc__,
) as dag:
    # Give Stripe a few minutes past the interval's end, so a customer created in its
    # last second is surely visible when the window is read.
    settle = TimeDeltaSensor(
        task_id="wait_for_interval_to_settle", delta=pendulum.duration(minutes=5), mode="reschedule"
    )

    export = StripeListCustomersOperator(
        task_id="export_customers",
        created={"gte": "{{ data_interval_start }}", "lt": "{{ data_interval_end }}"},
        output_path=(
            "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
            "/customers/date={{ data_interval_start | ds }}/customers.jsonl.gz"
        ),
        output_conn_id="{{ var.value.get('stripe_export_conn_id', '') }}",
        retries=2,
    )

    @task
    def report(result: dict) -> int:
        """Read the export back and check its count against what the export said it wrote."""
        path = ObjectStoragePath(result["path"])
        with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
            count = sum(1 for line in lines if json.loads(line)["object"] == "customer")
        if count != result["records"]:
            raise ValueError(f"{path} holds {count} customers, the export reported {result['records']}")
        print(f"{path}: {count} customers")
        return count

    settle >> export
    report(export.output)
