"""Connect fan-out: every connected account's customers and charges, one task per account and object.

The first task lists the platform's connected accounts from Stripe
(``/v1/accounts``); the list operator is then mapped over every account and
resource, and each task acts on its account (``stripe_account``). Every record
carries the account it came from as ``_stripe_account``, and each account's files
sit under its own path.

Stripe's rate budget belongs to the platform's key, so the tasks share it through
a pool: create it before the first run, ``airflow pools set stripe_api 4 "Stripe
API budget"`` (or in the UI under Admin → Pools). The scheduler never queues a
task whose pool does not exist: without it the run waits with its tasks
``scheduled``. With 4 slots and ``max_requests_per_second=5`` each, the platform
stays at 20 requests per second however many accounts there are.

Configure the destination with the Airflow Variable ``stripe_export_base`` (the
default is local files under ``/tmp/stripe-exports``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_stripe.operators import StripeListOperator

with DAG(
    dag_id="stripe_connect_fanout",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def connected_accounts() -> list[str]:
        """The ids of the platform's connected accounts (Airflow maps up to 1,024 by default)."""
        from airflow_provider_stripe.hooks.stripe import StripeHook

        with StripeHook().iter_objects("accounts") as accounts:
            return [account["id"] for account in accounts]

    StripeListOperator.partial(
        task_id="export",
        pool="stripe_api",
        max_requests_per_second=5,
        output_path=(
            "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
            "/connect/{{ task.stripe_account }}/{{ task.resource }}.jsonl.gz"
        ),
        output_conn_id="{{ var.value.get('stripe_export_conn_id', '') }}",
        retries=2,
    ).expand(stripe_account=connected_accounts(), resource=["customers", "charges"])
