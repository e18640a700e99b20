"""Asset-driven: a load DAG scheduled on fresh Stripe exports.

The export task declares the asset as an outlet; each asset event carries the
export's summary (``path``, ``records``, ``format``, ``has_more``), so the
downstream DAG knows exactly which file to load and how many customers to expect.

The producer exports each hour's customers: its data interval when scheduled (or
triggered with a logical date), and the previous full UTC hour before
``run_after`` when triggered with no logical date (``airflow_provider_stripe.windows.export_window``).
"""

from __future__ import annotations

from functools import partial

import pendulum
from airflow.sdk import DAG, Asset, task

from airflow_provider_stripe.operators import StripeListCustomersOperator
from airflow_provider_stripe.version_compat import CronDataIntervalTimetable  # airflow.sdk's from 3.2 on
from airflow_provider_stripe.windows import export_window

STRIPE_CUSTOMERS = Asset(name="stripe_customers_export", uri="stripe-export://customers")

with DAG(
    dag_id="stripe_asset_producer",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
    user_defined_macros={"export_window": partial(export_window, period="hour")},
) as dag:
    StripeListCustomersOperator(
        task_id="export_customers",
        created={"gte": "{{ export_window(dag_run).start }}", "lt": "{{ export_window(dag_run).end }}"},
        output_path=(
            "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
            "/hourly/{{ export_window(dag_run).start | ts_nodash }}.jsonl"
        ),
        outlets=[STRIPE_CUSTOMERS],
    )

with DAG(
    dag_id="stripe_asset_consumer",
    schedule=[STRIPE_CUSTOMERS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
) as consumer:

    @task
    def load(triggering_asset_events=None) -> list[dict]:
        """Each triggering event names a finished export file and its customer count."""
        exports = [dict(event.extra) for event in (triggering_asset_events or {}).get(STRIPE_CUSTOMERS, [])]
        for export in exports:
            print(f"would load {export['records']} customers from {export['path']}")
        return exports

    load()
