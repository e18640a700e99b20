"""Child collections and singletons through the operators, in real Airflow (``dag.test()``).

A child collection (``customer_balance_transactions``, ``persons`` …) is listed per parent:
the operators take the parent as ``parent_id``, map over it like any argument, and every
record says which parent it was listed under (``_stripe_parent``), as Connect records say
their account. The balance is one object, retrieved with no id.
"""

from __future__ import annotations

import gzip
import json

from tests.conftest import task_results
from tests.stripe_server import FakeStripe

MAPPED = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_stripe.operators import StripeGetOperator, StripeListOperator
with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
    StripeListOperator.partial(task_id="per_customer", resource="customer_balance_transactions", page_size=3).expand(
        parent_id=PARENTS
    )
    StripeListOperator.partial(
        task_id="to_files", resource="customer_balance_transactions", output_path=OUT + "/{{ ti.map_index }}.jsonl.gz"
    ).expand(parent_id=PARENTS)
    StripeGetOperator(task_id="balance", resource="balance")
"""


def test_a_child_collection_mapped_over_three_parents_exports_each_child_once(
    stripe_conn: FakeStripe, run_dag, tmp_path
):
    customers = stripe_conn.seed(3)
    children = {
        c["id"]: stripe_conn.seed_objects("customers/{customer}/balance_transactions", 4 + i, parent=c["id"])
        for i, c in enumerate(customers)
    }
    source = MAPPED.replace("PARENTS", repr(list(children))).replace("OUT", repr(f"file://{tmp_path}"))
    dag_run, _ = run_dag(source)
    results = task_results(dag_run)
    assert dag_run.state == "success", results
    for index, (parent, mine) in enumerate(children.items()):
        state, listed = results[f"per_customer[{index}]"]
        assert state == "success" and listed["parent_id"] == parent
        assert listed["url"] == f"/v1/customers/{parent}/balance_transactions"
        assert [r["id"] for r in listed["data"]] == [c["id"] for c in mine]  # each once, its own only
        assert {r["_stripe_parent"] for r in listed["data"]} == {parent}
        assert {r["customer"] for r in listed["data"]} == {parent}
        written = [
            json.loads(line)
            for line in gzip.decompress((tmp_path / f"{index}.jsonl.gz").read_bytes()).splitlines()
        ]
        assert [r["id"] for r in written] == [c["id"] for c in mine]
        assert {r["_stripe_parent"] for r in written} == {parent}
        assert results[f"to_files[{index}]"][1]["parent_id"] == parent
    everything = [r["id"] for i in range(3) for r in results[f"per_customer[{i}]"][1]["data"]]
    assert len(everything) == len(set(everything)) == 4 + 5 + 6
    state, balance = results["balance"]
    assert state == "success" and balance["object"] == "balance" and "_stripe_parent" not in balance


MISSING_PARENT = """
import pendulum
from airflow.sdk import DAG
from airflow_provider_stripe.operators import StripeGetOperator, StripeListOperator
with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
    StripeListOperator(task_id="no_parent", resource="persons", retries=3)
    StripeListOperator(task_id="empty_parent", resource="persons", parent_id="{{ params.get('nope', '') }}", retries=3)
    StripeListOperator(task_id="none_parent", resource="persons", parent_id="{{ params.get('nope') }}", retries=3)
    StripeGetOperator(task_id="balance_with_id", resource="balance", object_id="txn_1", retries=3)
    StripeGetOperator(
        task_id="item_with_parent", resource="subscription_items", object_id="si_1", parent_id="sub_1", retries=3
    )
"""


def test_a_child_collection_without_its_parent_fails_at_once_before_any_request(
    stripe_conn: FakeStripe, run_dag
):
    dag_run, _ = run_dag(MISSING_PARENT)
    results = task_results(dag_run)
    assert {task: state for task, (state, _) in results.items()} == dict.fromkeys(
        ("no_parent", "empty_parent", "none_parent", "balance_with_id", "item_with_parent"), "failed"
    )
    for ti in dag_run.get_task_instances():
        assert ti.try_number == 1  # AirflowFailException: no retry can fix it
    assert stripe_conn.requests == []
