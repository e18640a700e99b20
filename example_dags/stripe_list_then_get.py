"""List a page of customers to XCom, then get each one with a mapped task."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_stripe.operators import StripeGetCustomerOperator, StripeListCustomersOperator

with DAG(
    dag_id="stripe_list_then_get",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
) as dag:
    newest = StripeListCustomersOperator(task_id="list_newest", limit=10)

    @task
    def customer_ids(page: dict) -> list[str]:
        return [customer["id"] for customer in page["data"]]

    StripeGetCustomerOperator.partial(task_id="get_customer", expand=["default_source"]).expand(
        customer_id=customer_ids(newest.output)
    )
