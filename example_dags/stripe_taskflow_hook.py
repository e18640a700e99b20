"""TaskFlow: use ``StripeHook`` directly inside ``@task`` for custom logic.

Counts the customers created in the 30 days before the run, by billing country:
before its logical date when it has one, otherwise (triggered with no logical
date) before its ``run_after``, the moment it was triggered.
"""

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
    # A dict return annotation would make Airflow push one XCom per country; keep one XCom.
    @task(multiple_outputs=False)
    def customers_by_country(dag_run=None) -> dict[str, int]:
        """Count the customers created in ``[until - 30 days, until)``, by billing country."""
        from airflow_provider_stripe.hooks.stripe import StripeHook

        hook = StripeHook()  # created at run time: parsing the DAG opens no connection
        until = pendulum.instance(dag_run.data_interval_end or dag_run.run_after)
        since = until.subtract(days=30)
        countries: Counter[str] = Counter()
        for customer in hook.iter_customers(created={"gte": since, "lt": until}):
            countries[(customer.get("address") or {}).get("country") or "unknown"] += 1
        return dict(countries.most_common())

    customers_by_country()
