"""Dashboard links, OpenLineage facets and asset events."""

from __future__ import annotations

import pendulum

from airflow_provider_stripe.get_provider_info import get_provider_info
from airflow_provider_stripe.links import StripeCustomerLink, customer_dashboard_url
from airflow_provider_stripe.operators import StripeGetCustomerOperator, StripeListCustomersOperator
from tests.conftest import conn_json, task_results
from tests.stripe_server import FakeStripe, fake_key
from tests.test_example_dags import EXAMPLES


def test_dashboard_urls():
    assert customer_dashboard_url("cus_1", mode="live") == "https://dashboard.stripe.com/customers/cus_1"
    assert customer_dashboard_url("cus_1", mode="test") == "https://dashboard.stripe.com/test/customers/cus_1"
    assert (
        customer_dashboard_url("cus_1", mode="test", stripe_account="acct_9")
        == "https://dashboard.stripe.com/acct_9/test/customers/cus_1"
    )
    assert customer_dashboard_url("../x?y", mode="live").endswith("/customers/..%2Fx%3Fy")
    assert "airflow_provider_stripe.links.StripeCustomerLink" in get_provider_info()["extra-links"]
    assert [type(link) for link in StripeGetCustomerOperator.operator_extra_links] == [StripeCustomerLink]


def test_dashboard_link_is_stored_for_the_run(stripe_conn: FakeStripe, run_dag):
    customer = stripe_conn.seed(1)[0]
    connected = stripe_conn.seed(1, account="acct_LINK")[0]
    dag_run, _ = run_dag(
        f"""
        import pendulum
        from airflow.sdk import DAG
        from airflow_provider_stripe.operators import StripeGetCustomerOperator
        with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1)) as dag:
            StripeGetCustomerOperator(task_id="platform", customer_id="{customer["id"]}")
            StripeGetCustomerOperator(task_id="connected", customer_id="{connected["id"]}", stripe_account="acct_LINK")
        """
    )
    assert dag_run.state == "success"
    links = {
        ti.task_id: ti.xcom_pull(task_ids=ti.task_id, key="_link_StripeCustomerLink")
        for ti in dag_run.get_task_instances()
    }
    assert links == {
        "platform": f"https://dashboard.stripe.com/test/customers/{customer['id']}",
        "connected": f"https://dashboard.stripe.com/acct_LINK/test/customers/{connected['id']}",
    }


def test_openlineage_facets(stripe_server: FakeStripe, monkeypatch, tmp_path):
    import airflow.providers.openlineage  # noqa: F401  (a dev dependency: missing means a broken env)

    live_key = fake_key()
    stripe_server.api_keys.add(live_key)
    stripe_server.seed(5, account="acct_OL")
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, key=live_key))
    listing = StripeListCustomersOperator(
        task_id="l", stripe_account="acct_OL", output_path=f"{tmp_path}/c.jsonl"
    )
    listing.execute({})
    lineage = listing.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("stripe://live/acct_OL", "customers")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", f"{tmp_path}/c.jsonl")]
    customer_id = stripe_server.store("acct_OL").customers[0]["id"]
    getter = StripeGetCustomerOperator(task_id="g", customer_id=customer_id, stripe_account="acct_OL")
    getter.execute({})
    lineage = getter.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("stripe://live/acct_OL", "customers")]
    assert lineage.outputs == []


def test_asset_event_carries_the_record_count(stripe_conn: FakeStripe, run_dag, monkeypatch, tmp_path):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    monkeypatch.setenv("AIRFLOW_VAR_STRIPE_EXPORT_BASE", f"file://{tmp_path}")
    end = pendulum.datetime(2024, 5, 1, 12, tz="UTC")
    stripe_conn.seed(42, start=end.subtract(hours=1).int_timestamp, spacing=60)
    source = (EXAMPLES / "stripe_asset_driven.py").read_text()
    producer_only = source[: source.index('with DAG(\n    dag_id="stripe_asset_consumer"')]
    dag_run, _ = run_dag(producer_only.replace('"stripe_asset_producer"', '"DAG_ID"'), logical_date=end)
    result = task_results(dag_run)["export_customers"]
    assert result[0] == "success" and result[1]["records"] == 42
    with create_session() as session:
        events = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "stripe_customers_export")
        ).all()
        extras = [dict(event.extra) for event in events]
    assert extras[-1] == result[1]
    assert extras[-1]["path"].endswith("/hourly/20240501T110000.jsonl")
