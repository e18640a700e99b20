"""Operators as real Airflow tasks (``dag.test()`` on SQLite) against the fake Stripe server."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pendulum

from airflow_provider_stripe.operators import StripeGetCustomerOperator, StripeListCustomersOperator
from tests.conftest import task_results
from tests.openapi import validate
from tests.stripe_server import FakeStripe, Fault

HEADER = """
import os
import pendulum
from airflow.sdk import DAG, ObjectStoragePath, task
from airflow_provider_stripe.version_compat import CronDataIntervalTimetable
from airflow_provider_stripe.operators import (
    StripeGetCustomerOperator,
    StripeGetOperator,
    StripeListCustomersOperator,
    StripeListOperator,
    StripeSearchOperator,
)
OUT = os.environ.get("STRIPE_TEST_OUT", "/nonexistent")
"""


def dag_source(body: str, schedule: str = "None") -> str:
    indented = "\n".join("    " + line for line in body.strip().splitlines())
    return (
        HEADER
        + f'with DAG("DAG_ID", schedule={schedule}, start_date=pendulum.datetime(2024, 1, 1), catchup=False) as dag:\n'
        + indented
        + "\n"
    )


def read_jsonl(path: Path) -> list[dict]:
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


# -- construction, no Airflow run needed ------------------------------------------------------


def test_init_only_assigns_and_parsing_opens_no_connection(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("no connection may be opened while building a DAG")

    monkeypatch.setattr("airflow.sdk.BaseHook.get_connection", boom)
    op = StripeListCustomersOperator(
        task_id="l", limit="{{ params.n }}", created={"gte": "{{ ds }}"}, page_size=7
    )
    assert (op.limit, op.created, op.page_size, op.customer_email) == (
        "{{ params.n }}",
        {"gte": "{{ ds }}"},
        7,
        None,
    )
    get = StripeGetCustomerOperator(task_id="g", customer_id="{{ params.id }}")
    assert get.customer_id == "{{ params.id }}"
    assert StripeListCustomersOperator.ui_color == StripeGetCustomerOperator.ui_color == "#635BFF"
    assert {"limit", "created", "customer_email", "output_path", "stripe_account", "page_size"} <= set(
        StripeListCustomersOperator.template_fields
    )
    assert {"customer_id", "expand", "output_path"} <= set(StripeGetCustomerOperator.template_fields)
    assert StripeListCustomersOperator.template_fields_renderers["created"] == "json"


def test_email_filter_never_becomes_the_alert_address():
    op = StripeListCustomersOperator(task_id="l", email="customer@example.com")
    assert op.customer_email == "customer@example.com"
    assert op.email is None  # Airflow would send failure alerts there
    with_defaults = StripeListCustomersOperator(task_id="m", default_args={"email": ["oncall@corp.example"]})
    assert with_defaults.customer_email is None
    assert with_defaults.email == ["oncall@corp.example"]


def test_every_mapped_argument_is_a_named_parameter():
    mapped = StripeGetCustomerOperator.partial(task_id="g").expand(
        customer_id=["cus_1", "cus_2"], stripe_account=["acct_1", "acct_2"]
    )
    assert set(mapped.expand_input.value) == {"customer_id", "stripe_account"}
    StripeListCustomersOperator.partial(task_id="l").expand(
        created=[{"gte": 1, "lt": 2}], stripe_account=["acct_1"], email=["a@b.c"]
    )


# -- XCom -----------------------------------------------------------------------------------


def test_list_to_xcom(stripe_env: FakeStripe, run_dag):
    customers = stripe_env.seed(30)
    dag_run, _ = run_dag(
        dag_source(f"""
StripeListCustomersOperator(task_id="first5", limit=5, page_size=2)
StripeListCustomersOperator(task_id="all")
StripeListCustomersOperator(task_id="by_email", email="{customers[7]["email"]}")
StripeListCustomersOperator(task_id="templated", limit="{{{{ 1 + 2 }}}}", starting_after="{{{{ params.cursor }}}}",
                            params={{"cursor": "{customers[9]["id"]}"}})
""")
    )
    assert dag_run.state == "success"
    results = task_results(dag_run)
    first5 = results["first5"][1]
    validate(first5, "customer_list")
    assert first5 == {"object": "list", "url": "/v1/customers", "has_more": True, "data": customers[:5]}
    everything = results["all"][1]
    assert everything["data"] == customers and everything["has_more"] is False
    assert results["by_email"][1]["data"] == [customers[7]]
    assert results["templated"][1]["data"] == customers[10:13]


def test_xcom_cap_fails_with_advice_and_never_truncates(stripe_env: FakeStripe, run_dag, capfd):
    stripe_env.seed(30)
    dag_run, _ = run_dag(
        dag_source("""
StripeListCustomersOperator(task_id="capped", max_xcom_records=10, page_size=4)
StripeListCustomersOperator(task_id="limit_under_cap", max_xcom_records=10, limit=10)
""")
    )
    results = task_results(dag_run)
    assert results["capped"][0] == "failed"
    assert results["limit_under_cap"][0] == "success" and len(results["limit_under_cap"][1]["data"]) == 10
    out = capfd.readouterr().out
    assert "More than max_xcom_records=10 customers match" in out and "Set output_path" in out
    # It stopped after the 11th customer instead of reading the whole account.
    capped_limits = [dict(r["query"]).get("limit") for r in stripe_env.requests]
    assert capped_limits.count("4") + capped_limits.count("3") <= 3


# -- object storage ---------------------------------------------------------------------------


def test_list_to_files_jsonl_json_and_gzip(stripe_env: FakeStripe, run_dag, tmp_path):
    customers = stripe_env.seed(1234)
    stripe_env.seed(1, name="Zoë Ünïcode ✨", email="zoë@example.com")
    customers = stripe_env.store().newest_first()
    dag_run, _ = run_dag(
        dag_source("""
StripeListCustomersOperator(task_id="jsonl", output_path=OUT + "/c.jsonl")
StripeListCustomersOperator(task_id="gz", output_path="file://" + OUT + "/sub/dir/c.jsonl.gz")
StripeListCustomersOperator(task_id="json", output_path=ObjectStoragePath("file://" + OUT + "/c.json"),
                            output_format="json", limit=150)
""")
    )
    assert dag_run.state == "success"
    results = task_results(dag_run)
    assert read_jsonl(tmp_path / "c.jsonl") == customers
    assert read_jsonl(tmp_path / "sub" / "dir" / "c.jsonl.gz") == customers
    raw = (tmp_path / "c.jsonl").read_bytes()
    assert "Zoë Ünïcode ✨".encode() in raw  # non-ASCII kept as is, UTF-8
    listed = json.loads((tmp_path / "c.json").read_text("utf-8"))
    validate(listed, "customer_list")
    assert listed == {"object": "list", "url": "/v1/customers", "data": customers[:150], "has_more": True}
    assert results["jsonl"][1] == {
        "path": f"file://{tmp_path}/c.jsonl",
        "records": 1235,
        "format": "jsonl",
        "has_more": False,
    }
    assert results["gz"][1]["path"].endswith("/sub/dir/c.jsonl.gz") and results["gz"][1]["records"] == 1235
    assert results["json"][1]["has_more"] is True and results["json"][1]["records"] == 150
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["c.json", "c.jsonl", "c.jsonl.gz"]


def test_failure_mid_stream_keeps_the_previous_file_and_leaves_no_temporary(
    stripe_env: FakeStripe, run_dag, tmp_path
):
    stripe_env.seed(500)
    previous = b'{"id": "cus_previous_run"}\n'
    (tmp_path / "c.jsonl").write_bytes(previous)
    # The first two pages succeed, then Stripe fails for good.
    stripe_env.faults.extend([Fault(), Fault(), Fault(status=500, headers={"Stripe-Should-Retry": "false"})])
    dag_run, _ = run_dag(
        dag_source("""
StripeListCustomersOperator(task_id="existing", output_path=OUT + "/c.jsonl", page_size=100)
""")
    )
    assert task_results(dag_run)["existing"][0] == "failed"
    assert len(stripe_env.requests) == 3
    assert (tmp_path / "c.jsonl").read_bytes() == previous
    assert [p.name for p in tmp_path.iterdir()] == ["c.jsonl"]
    stripe_env.clear_log()
    stripe_env.faults.extend([Fault(), *[Fault(drop=True)] * 10])
    dag_run, _ = run_dag(
        dag_source("""
StripeListCustomersOperator(task_id="fresh", output_path=OUT + "/new.jsonl.gz", page_size=100)
""")
    )
    assert task_results(dag_run)["fresh"][0] == "failed"
    assert [p.name for p in tmp_path.iterdir()] == ["c.jsonl"]


# -- incremental windows ---------------------------------------------------------------------------


def test_data_interval_window_is_half_open_and_boundary_safe(stripe_env: FakeStripe, run_dag):
    # A manual run at `end` covers the interval that ends there: [start, end).
    end = pendulum.datetime(2024, 3, 1, tz="UTC")
    start = end.subtract(days=1)
    s, e = start.int_timestamp, end.int_timestamp
    stamps = [s - 1, s, s, s + 1, s + 43_200, e - 1, e - 1, e, e + 1]
    stripe_env.seed(len(stamps), created=stamps)
    dag_run, _ = run_dag(
        dag_source(
            """
StripeListCustomersOperator(
    task_id="window",
    created={"gte": "{{ data_interval_start }}", "lt": "{{ data_interval_end }}"},
    page_size=2,
    output_path=OUT + "/customers/{{ data_interval_start | ts_nodash }}.jsonl",
)
""",
            schedule='CronDataIntervalTimetable("@daily", timezone="UTC")',
        ),
        logical_date=end,
    )
    assert dag_run.state == "success"
    result = task_results(dag_run)["window"][1]
    assert (dag_run.data_interval_start, dag_run.data_interval_end) == (start, end)
    assert result["records"] == 6
    written = read_jsonl(Path(result["path"].removeprefix("file://")))
    assert sorted(c["created"] for c in written) == [s, s, s + 1, s + 43_200, e - 1, e - 1]
    assert result["path"].endswith("/customers/20240229T000000.jsonl")
    query = dict(stripe_env.requests[0]["query"])
    assert (query["created[gte]"], query["created[lt]"]) == (str(s), str(e))


# -- get -----------------------------------------------------------------------------------


def test_get_customer_live_deleted_unknown_and_to_file(stripe_env: FakeStripe, run_dag, tmp_path, capfd):
    customers = stripe_env.seed(3)
    stripe_env.store().delete(customers[1]["id"])
    dag_run, _ = run_dag(
        dag_source(f"""
StripeGetCustomerOperator(task_id="live", customer_id="{customers[0]["id"]}", expand=["default_source"])
StripeGetCustomerOperator(task_id="deleted", customer_id="{customers[1]["id"]}")
StripeGetCustomerOperator(task_id="deleted_strict", customer_id="{customers[1]["id"]}", fail_on_deleted=True)
StripeGetCustomerOperator(task_id="unknown", customer_id="cus_doesnotexist")
StripeGetCustomerOperator(task_id="to_file", customer_id="{customers[2]["id"]}", output_path=OUT + "/one.json")
""")
    )
    results = task_results(dag_run)
    out = capfd.readouterr().out
    assert results["live"] == ("success", customers[0])
    validate(results["live"][1], "customer")
    assert results["deleted"] == (
        "success",
        {"id": customers[1]["id"], "object": "customer", "deleted": True},
    )
    assert f"Stripe customer {customers[1]['id']} is deleted" in out
    assert results["deleted_strict"][0] == "failed" and "fail_on_deleted=True" in out
    assert results["unknown"][0] == "failed"
    unknown_request = next(r for r in stripe_env.requests if r["path"].endswith("cus_doesnotexist"))
    assert "No such customer: 'cus_doesnotexist'" in out and unknown_request["request_id"] in out
    assert json.loads((tmp_path / "one.json").read_text()) == customers[2]
    assert results["to_file"][1] == {
        "path": f"file://{tmp_path}/one.json",
        "records": 1,
        "format": "json",
        "has_more": False,
    }


# -- mapping ---------------------------------------------------------------------------------


def test_mapping_over_listed_ids_and_over_connect_accounts(stripe_env: FakeStripe, run_dag):
    customers = stripe_env.seed(6)
    a = stripe_env.seed(3, account="acct_A")
    b = stripe_env.seed(2, account="acct_B")
    dag_run, _ = run_dag(
        dag_source("""
listed = StripeListCustomersOperator(task_id="listed", limit=4)

@task
def ids(page):
    return [c["id"] for c in page["data"]]

StripeGetCustomerOperator.partial(task_id="get").expand(customer_id=ids(listed.output))
StripeListCustomersOperator.partial(task_id="per_account").expand(stripe_account=["acct_A", "acct_B"])
""")
    )
    assert dag_run.state == "success"
    results = task_results(dag_run)
    assert [results[f"get[{i}]"][1] for i in range(4)] == customers[:4]
    # Each record, and the result, says which connected account it came from.
    for index, (account, expected) in enumerate((("acct_A", a), ("acct_B", b))):
        result = results[f"per_account[{index}]"][1]
        assert result["stripe_account"] == account
        assert result["data"] == [{**customer, "_stripe_account": account} for customer in expected]
    assert all("_stripe_account" not in record for record in results["listed"][1]["data"])
    accounts = {r["headers"].get("Stripe-Account") for r in stripe_env.requests}
    assert accounts == {None, "acct_A", "acct_B"}


# -- bad parameters ----------------------------------------------------------------------------


BAD_PARAMETERS = {
    "limit_zero": ('StripeListCustomersOperator(task_id="limit_zero", limit=0)', "'limit'"),
    "limit_text": ('StripeListCustomersOperator(task_id="limit_text", limit="many")', "'limit'"),
    "page_size_big": ('StripeListCustomersOperator(task_id="page_size_big", page_size=101)', "'page_size'"),
    "page_size_zero": ('StripeListCustomersOperator(task_id="page_size_zero", page_size=0)', "'page_size'"),
    "both_cursors": (
        'StripeListCustomersOperator(task_id="both_cursors", starting_after="cus_a", ending_before="cus_b")',
        "'ending_before'",
    ),
    "created_bad": (
        'StripeListCustomersOperator(task_id="created_bad", created={"gte": "last tuesday"})',
        "'created[gte]'",
    ),
    "created_empty": (
        'StripeListCustomersOperator(task_id="created_empty", created={"gte": 2000, "lt": 1000})',
        "empty range",
    ),
    "created_key": (
        'StripeListCustomersOperator(task_id="created_key", created={"after": 5})',
        "unknown key",
    ),
    "format_bad": (
        'StripeListCustomersOperator(task_id="format_bad", output_path=OUT + "/x.csv", output_format="csv")',
        "'output_format'",
    ),
    "empty_id": ('StripeGetCustomerOperator(task_id="empty_id", customer_id="")', "'customer_id'"),
    "blank_templated_id": (
        "StripeGetCustomerOperator(task_id=\"blank_templated_id\", customer_id=\"{{ params.get('nope', '') }}\")",
        "'customer_id'",
    ),
}


def test_every_bad_parameter_fails_before_any_request(stripe_env: FakeStripe, run_dag, capfd, tmp_path):
    stripe_env.seed(5)
    dag_run, _ = run_dag(dag_source("\n".join(line for line, _ in BAD_PARAMETERS.values())))
    results = task_results(dag_run)
    out = capfd.readouterr().out
    assert {task: state for task, (state, _) in results.items()} == dict.fromkeys(BAD_PARAMETERS, "failed")
    for _, fragment in BAD_PARAMETERS.values():
        assert fragment in out
    assert stripe_env.requests == []
    assert list(tmp_path.iterdir()) == []
