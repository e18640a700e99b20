"""Connect: one task per connected account, by mapping over ``stripe_account``.

The accounts come from the Airflow Variable ``stripe_connected_accounts`` (a JSON
list such as ``["acct_1", "acct_2"]``), read when the DAG runs, not when it parses.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Variable, task

from airflow_provider_stripe.operators import StripeListCustomersOperator

with DAG(
    dag_id="stripe_connect_accounts",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def connected_accounts() -> list[str]:
        return list(Variable.get("stripe_connected_accounts", default=[], deserialize_json=True))

    StripeListCustomersOperator.partial(
        task_id="export_account",
        output_path=(
            "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
            "/connect/{{ task.stripe_account }}/customers.jsonl"
        ),
    ).expand(stripe_account=connected_accounts())
