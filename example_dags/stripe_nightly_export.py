"""Nightly incremental export: the customers created in each day, to object storage.

Every run lists exactly the customers created in its window (half-open, so a
customer created on the boundary second lands in exactly one night's file) and
writes them as gzipped JSON Lines under a per-day path, once the window has been
closed for five minutes. A downstream task reads the file back and reports the
count.

The window is the run's data interval — ``[data_interval_start,
data_interval_end)`` for scheduled runs and for runs triggered with a logical
date. A run triggered with no logical date (``airflow dags trigger`` without
``-l``, the REST API with ``"logical_date": null``, the UI with the date cleared)
exports the previous full UTC day before its ``run_after``: trigger it by hand in
the morning and it exports yesterday (``airflow_provider_stripe.windows.export_window``). The UI
fills in the current time as the logical date; the interval inferred from it is
that same day.

Configure the destination with the Airflow Variable ``stripe_export_base``
(e.g. ``s3://my-bucket/stripe`` with ``stripe_export_conn_id``); the default is
local files under ``/tmp/stripe-exports``.
"""

from __future__ import annotations

import gzip
import json

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_stripe.operators import StripeListCustomersOperator
from airflow_provider_stripe.version_compat import CronDataIntervalTimetable  # airflow.sdk's from 3.2 on
from airflow_provider_stripe.windows import export_window

with DAG(
    dag_id="stripe_nightly_export",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["stripe", "example"],
    doc_md=__doc__,
    user_defined_macros={"export_window": export_window},
) as dag:
    # Give Stripe a few minutes past the window's end, so a customer created in its
    # last second is surely visible when the window is read (at once for a past day).
    settle = DateTimeSensor(
        task_id="wait_for_interval_to_settle",
        target_time="{{ export_window(dag_run).end.add(minutes=5) }}",
        mode="reschedule",
    )

    export = StripeListCustomersOperator(
        task_id="export_customers",
        created={"gte": "{{ export_window(dag_run).start }}", "lt": "{{ export_window(dag_run).end }}"},
        output_path=(
            "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
            "/customers/date={{ export_window(dag_run).start | ds }}/customers.jsonl.gz"
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
