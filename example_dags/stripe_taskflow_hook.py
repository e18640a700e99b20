"""TaskFlow: use ``StripeHook`` directly inside ``@task`` for custom logic."""

from __future__ import annotations

from collections import Counter

import pendulum
from airflow.sdk import DAG, task

with DAG(
    dag_id="stripe_taskflow_hook",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def customers_by_country(data_interval_end=None) -> dict[str, int]:
        """Count the customers created in the 30 days before the run, by billing country."""
        from airflow_provider_stripe.hooks.stripe import StripeHook

        hook = StripeHook()  # created at run time: parsing the DAG opens no connection
        since = pendulum.instance(data_interval_end).subtract(days=30)
        countries: Counter[str] = Counter()
        for customer in hook.iter_customers(created={"gte": since}):
            countries[(customer.get("address") or {}).get("country") or "unknown"] += 1
        return dict(countries.most_common())

    customers_by_country()
