"""Spread one large export over the workers a deployment already has.

The ``created`` history is split into windows (``split_created``) and the list
operator is mapped over them, each window to its own file, so Celery or
Kubernetes workers fetch them side by side. Stripe's rate budget is per account,
so it is shared explicitly: ``max_active_tis_per_dagrun=4`` caps how many windows
of a run fetch at once and each task paces itself with ``max_requests_per_second``;
keep ``concurrent windows × max_requests_per_second`` under the account's budget
(4 × 5 req/s = 20 req/s, below Stripe's 25 per endpoint). It runs as is, with no
setup beyond the connection.

To share one budget across DAGs and runs (two backfills, the nightly export …),
use a pool instead: create it first, ``airflow pools set stripe_api 4 "Stripe API
budget"`` (or in the UI under Admin → Pools), then add ``pool="stripe_api"`` to
the ``partial(...)`` of every task that calls Stripe. The pool must exist before
the run: the scheduler never queues a task whose pool does not exist, so the run
waits forever with its tasks ``scheduled`` and only the scheduler's log says why.

Trigger it with the params ``start``, ``end`` (ISO 8601) and ``windows``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_stripe.operators import StripeListCustomersOperator

with DAG(
    dag_id="stripe_backfill_windows",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["stripe", "example"],
    doc_md=__doc__,
    params={
        "start": Param("2020-01-01T00:00:00Z", type="string", description="first second (inclusive)"),
        "end": Param("2026-01-01T00:00:00Z", type="string", description="last second (exclusive)"),
        "windows": Param(16, type="integer", minimum=1, maximum=1024),
    },
) as dag:

    @task
    def created_windows(params: dict | None = None) -> list[dict[str, int]]:
        from airflow_provider_stripe.params import split_created

        assert params is not None
        return split_created({"gte": params["start"], "lt": params["end"]}, params["windows"])

    StripeListCustomersOperator.partial(
        task_id="export_window",
        max_active_tis_per_dagrun=4,
        max_requests_per_second=5,
        output_path=(
            "{{ var.value.get('stripe_export_base', 'file:///tmp/stripe-exports') }}"
            "/backfill/{{ params.start[:10] }}_{{ params.end[:10] }}"
            "/window-{{ '%04d' % ti.map_index }}.jsonl.gz"
        ),
    ).expand(created=created_windows())
