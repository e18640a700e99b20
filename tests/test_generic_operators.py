"""The generic operators (list, get, search any registered object) under ``dag.test()``."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from airflow_provider_stripe.operators import StripeGetOperator, StripeListOperator, StripeSearchOperator
from tests.conftest import conn_json, task_results
from tests.stripe_server import FakeStripe, fake_key
from tests.test_operators import dag_source, read_jsonl


def test_list_with_templated_filters_to_xcom_and_file(stripe_env: FakeStripe, run_dag, tmp_path):
    paid = stripe_env.seed_objects("invoices", 4, status="paid", customer="cus_A")
    stripe_env.seed_objects("invoices", 3, status="open", customer="cus_A")
    stripe_env.seed_objects("invoices", 2, status="paid", customer="cus_B")
    dag_run, _ = run_dag(
        dag_source("""
StripeListOperator(
    task_id="xcom",
    resource="invoices",
    filters={"status": "{{ params.status }}", "customer": "cus_A"},
    params={"status": "paid"},
)
StripeListOperator(
    task_id="file", resource="{{ 'invoices' }}", filters={"status": "open"}, output_path=OUT + "/open.jsonl"
)
""")
    )
    assert dag_run.state == "success"
    results = task_results(dag_run)
    stored = stripe_env.objects_now("invoices")
    assert results["xcom"][1]["data"] == [stored[i["id"]] for i in paid]
    assert results["xcom"][1]["url"] == "/v1/invoices"
    assert results["file"][1]["records"] == 3
    assert {r["status"] for r in read_jsonl(tmp_path / "open.jsonl")} == {"open"}
    sent = [dict(r["query"]) for r in stripe_env.requests if r["path"] == "/v1/invoices"]
    assert {"status": "paid", "customer": "cus_A", "limit": "100"} in sent  # the rendered template


BAD = {
    "unknown filter": ('resource="invoices", filters={"colour": "red"}', "takes no filter 'colour'"),
    "filters not a mapping": ('resource="invoices", filters=["status"]', "'filters'"),
    "unknown resource": ('resource="invoicez"', "unknown Stripe resource 'invoicez'"),
    "enum value": ('resource="invoices", filters={"status": "unpaid"}', "must be one of draft"),
    "created on a list without it": ('resource="quotes", created={"gte": 1}', "cannot be filtered by"),
    "parallel without created": ('resource="quotes", parallelism=2', "takes no created filter"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_generic_parameters_fail_the_task_at_once_before_any_request(
    stripe_env: FakeStripe, run_dag, capfd, name
):
    arguments, message = BAD[name]
    dag_run, _ = run_dag(dag_source(f"StripeListOperator(task_id='bad', retries=3, {arguments})"))
    assert dag_run.state == "failed"
    ti = dag_run.get_task_instance("bad")
    assert ti.try_number == 1 and ti.state == "failed"  # AirflowFailException: no retry
    assert message in capfd.readouterr().out
    assert stripe_env.requests == []


def test_get_operator_link_lineage_and_deleted(stripe_server: FakeStripe, monkeypatch, tmp_path):
    import airflow.providers.openlineage  # noqa: F401

    key = fake_key()
    stripe_server.api_keys.add(key)
    monkeypatch.setenv("AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, key=key))
    stripe_server.connect_account("acct_GET")
    [charge] = stripe_server.seed_objects("charges", 1, account="acct_GET")
    getter = StripeGetOperator(
        task_id="g", resource="charges", object_id=charge["id"], stripe_account="acct_GET",
        output_path=f"{tmp_path}/charge.json",
    )  # fmt: skip
    summary = getter.execute({})
    assert summary["stripe_account"] == "acct_GET" and summary["records"] == 1
    written = json.loads((tmp_path / "charge.json").read_text())
    assert written == {
        **stripe_server.objects_now("charges", "acct_GET")[charge["id"]],
        "_stripe_account": "acct_GET",
    }
    assert getter.stripe_dashboard_url == f"https://dashboard.stripe.com/acct_GET/payments/{charge['id']}"
    lineage = getter.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("stripe://live/acct_GET", "charges")]
    lister = StripeListOperator(task_id="l", resource="checkout/sessions", stripe_account="acct_GET")
    lister.execute({})
    assert lister.stripe_dashboard_url is None  # no Dashboard page known for sure: no link
    lineage = lister.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("stripe://live/acct_GET", "checkout/sessions")
    ]


def test_search_operator_to_xcom_and_file(stripe_env: FakeStripe, run_dag, tmp_path, capfd):
    charges = stripe_env.seed_objects("charges", 30, amount=lambda i: 1000 * (i % 3))
    big = [c["id"] for c in charges if c["amount"] >= 2000]
    dag_run, _ = run_dag(
        dag_source("""
StripeSearchOperator(task_id="xcom", resource="charges", query="amount>=2000", page_size=4)
StripeSearchOperator(
    task_id="file", resource="charges", query="amount>=2000", limit=5, output_path=OUT + "/big.jsonl"
)
StripeSearchOperator(task_id="too_many", resource="charges", query="amount>=0", max_xcom_records=10)
StripeSearchOperator(task_id="not_searchable", resource="refunds", query="amount>1")
""")
    )
    results = task_results(dag_run)
    assert sorted(r["id"] for r in results["xcom"][1]["data"]) == sorted(big)
    assert results["xcom"][1]["url"] == "/v1/charges/search"
    assert results["file"][1] == {
        "path": f"file://{tmp_path}/big.jsonl",
        "records": 5,
        "format": "jsonl",
        "has_more": True,
    }
    assert (results["too_many"][0], results["not_searchable"][0]) == ("failed", "failed")
    out = capfd.readouterr().out
    assert "More than max_xcom_records=10 charges/search match" in out
    assert "refunds cannot be searched" in out


def test_search_keeps_to_stripes_own_search_limit(stripe_conn: FakeStripe):
    """Even with the connection's pacing off, search requests are spaced for 20 per second."""
    from airflow_provider_stripe.hooks.stripe import StripeHook

    stripe_conn.seed_objects("products", 12)
    with StripeHook().search("products", "active:'true'", page_size=2) as results:
        assert len(list(results)) == 12
    times = [r["time"] for r in stripe_conn.requests]
    assert len(times) == 6
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.045


def test_operators_are_importable_and_registered():
    from airflow_provider_stripe.get_provider_info import get_provider_info

    modules = get_provider_info()["operators"][0]["python-modules"]
    assert "airflow_provider_stripe.operators.objects" in modules
    for operator in (StripeListOperator, StripeGetOperator, StripeSearchOperator):
        assert operator.__module__ == "airflow_provider_stripe.operators.objects"
        assert "resource" in operator.template_fields


def test_mapping_over_resources_and_accounts(stripe_env: FakeStripe, run_dag):
    for account in ("acct_M1", "acct_M2"):
        stripe_env.connect_account(account)
        stripe_env.seed_objects("prices", 2, account=account)
        stripe_env.seed_objects("products", 3, account=account)
    started = time.monotonic()
    dag_run, _ = run_dag(
        dag_source("""
StripeListOperator.partial(task_id="each").expand(
    stripe_account=["acct_M1", "acct_M2"], resource=["prices", "products"]
)
""")
    )
    assert dag_run.state == "success", time.monotonic() - started
    results = task_results(dag_run)
    counts = sorted((r[1]["stripe_account"], len(r[1]["data"])) for r in results.values())
    assert counts == [("acct_M1", 2), ("acct_M1", 3), ("acct_M2", 2), ("acct_M2", 3)]
    assert all(
        rec["_stripe_account"] == r[1]["stripe_account"] for r in results.values() for rec in r[1]["data"]
    )


def test_the_customers_operator_refuses_generic_arguments_it_would_ignore():
    from airflow_provider_stripe.operators import StripeListCustomersOperator

    for name, value in (("filters", {"email": "a@b.c"}), ("resource", "invoices")):
        with pytest.raises(TypeError, match=f"takes no '{name}'"):
            StripeListCustomersOperator(task_id="t", **{name: value})


def test_no_dashboard_link_where_the_dashboard_has_no_page(stripe_conn: FakeStripe):
    [item] = stripe_conn.seed_objects("invoiceitems", 1)
    getter = StripeGetOperator(task_id="g", resource="invoiceitems", object_id=item["id"])
    assert getter.execute({})["id"] == item["id"]
    assert getter.stripe_dashboard_url is None
