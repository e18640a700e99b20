"""Nightly revenue export: the invoices, subscriptions and charges created each day.

Each run lists what was created in its window (the data interval, or the
previous UTC day for a run triggered with no logical date, as in
``stripe_nightly_export``) and writes one gzipped JSON Lines file per object type
under a per-day path:

- invoices with every line: an invoice's ``lines`` beyond the first 10 are paged
  from Stripe before it is written (``complete_lists``, on by default), so a
  250-line invoice has 250 lines in the file;
- subscriptions of every status: Stripe's list leaves canceled ones out unless
  asked for ``status=all``, which the registry sends by default and this DAG
  spells out;
- charges.

Invoices and charges change after they are created (paid, refunded): these
files hold each object as it was when its day was exported. Re-export a
trailing window to refresh them.

Configure the destination with the Airflow Variables ``stripe_export_base`` and
``stripe_export_conn_id`` (the default is local files under ``/tmp/stripe-exports``).
"""

from __future__ import annotations

import gzip
import json

import pendulum
from airflow.providers.standard.sensors.date_time import DateTimeSensor
from airflow.sdk import DAG, ObjectStoragePath, task

from airflow_provider_stripe.operators import StripeListOperator
from airflow_provider_stripe.version_compat import CronDataIntervalTimetable  # airflow.sdk's from 3.2 on
from airflow_provider_stripe.windows import export_window

#: What every export task shares: the run's window, and a file per object type under the day's path.
EXPORT = {
    "created": {"gte": "{{ export_window(dag_run).start }}", "lt": "{{ export_window(dag_run).end }}"},
    "output_path": (
        "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
        "/revenue/date={{ export_window(dag_run).start | ds }}/{{ task.resource }}.jsonl.gz"
    ),
    "output_conn_id": "{{ var.value.get('stripe_export_conn_id', '') }}",
    "retries": 2,
}

with DAG(
    dag_id="stripe_revenue_export",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["stripe", "example"],
    doc_md=__doc__,
    user_defined_macros={"export_window": export_window},
) as dag:
    settle = DateTimeSensor(
        task_id="wait_for_interval_to_settle",
        target_time="{{ export_window(dag_run).end.add(minutes=5) }}",
        mode="reschedule",
    )
    invoices = StripeListOperator(task_id="export_invoices", resource="invoices", **EXPORT)
    subscriptions = StripeListOperator(
        task_id="export_subscriptions", resource="subscriptions", filters={"status": "all"}, **EXPORT
    )
    charges = StripeListOperator(task_id="export_charges", resource="charges", **EXPORT)

    @task
    def check_invoice_lines(result: dict) -> int:
        """Read the invoices back: every one must hold all of its lines."""
        path = ObjectStoragePath(result["path"])
        lines = 0
        with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as records:
            for record in map(json.loads, records):
                if record["lines"]["has_more"]:
                    raise ValueError(f"invoice {record['id']} was written with only some of its lines")
                lines += len(record["lines"]["data"])
        print(f"{path}: {result['records']} invoices, {lines} lines")
        return lines

    settle >> [invoices, subscriptions, charges]
    check_invoice_lines(invoices.output)
