"""Embedded lists are never written cut short: an invoice with 250 lines comes out with 250 lines.

Stripe embeds at most 10 items of an object's lists (an invoice's ``lines``, a
subscription's ``items`` …) with ``has_more: true`` and a ``url`` to page the
rest from. The client pages each to its end, from that url only, before a record
is handed on; an answer that tries to steer it elsewhere fails the task.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from airflow_provider_stripe.api.embedded import embedded_list_request
from airflow_provider_stripe.exceptions import StripeResponseError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.conftest import task_results
from tests.stripe_server import FakeStripe, Fault
from tests.test_operators import dag_source


def line_ids(record: dict[str, Any], name: str = "lines") -> list[str]:
    return [item["id"] for item in record[name]["data"]]


@pytest.fixture
def invoices(stripe_conn: FakeStripe) -> list[dict[str, Any]]:
    """Five invoices; the third has 250 lines, the others the example's one."""
    stripe_conn.seed_objects("invoices", 2, start=1_700_000_000)
    stripe_conn.seed_objects("invoices", 1, start=1_700_000_500, embedded={"lines": 250})
    stripe_conn.seed_objects("invoices", 2, start=1_700_001_000)
    return sorted(stripe_conn.objects_now("invoices").values(), key=lambda i: i["created"], reverse=True)


def test_an_invoice_with_250_lines_comes_out_with_250_lines_every_way(invoices, stripe_conn: FakeStripe):
    big = invoices[2]
    assert len(big["lines"]["data"]) == 250
    hook = StripeHook()
    stripe_conn.clear_log()
    with hook.iter_objects("invoices") as records:
        listed = {r["id"]: r for r in records}
    assert line_ids(listed[big["id"]]) == line_ids(big)
    assert listed[big["id"]]["lines"]["has_more"] is False
    # One list page, then the rest of the lines from the invoice's own url: 10 + 100 + 100 + 40.
    paths = [r["path"] for r in stripe_conn.requests]
    assert paths == ["/v1/invoices"] + [f"/v1/invoices/{big['id']}/lines"] * 3
    assert line_ids(hook.get_object("invoices", big["id"])) == line_ids(big)
    with hook.iter_objects("invoices", parallelism=3, page_size=2) as records:
        assert {r["id"]: line_ids(r) for r in records} == {i["id"]: line_ids(i) for i in invoices}
    with hook.search("invoices", f"created>{big['created'] - 1}") as results:
        assert line_ids({r["id"]: r for r in results}[big["id"]]) == line_ids(big)
    page = hook.list_objects("invoices", limit=5)
    assert [len(r["lines"]["data"]) for r in page["data"]] == [len(i["lines"]["data"]) for i in invoices]


def test_complete_lists_false_leaves_stripes_ten(invoices, stripe_conn: FakeStripe):
    big = StripeHook().get_object("invoices", invoices[2]["id"], complete_lists=False)
    assert len(big["lines"]["data"]) == 10 and big["lines"]["has_more"] is True


def test_subscription_items_page_from_a_url_with_a_query(stripe_conn: FakeStripe):
    """A subscription's items live at /v1/subscription_items?subscription=…, as on Stripe."""
    [subscription] = stripe_conn.seed_objects("subscriptions", 1, embedded={"items": 120})
    got = StripeHook().get_object("subscriptions", subscription["id"])
    assert line_ids(got, "items") == line_ids(subscription, "items")
    pages = [r for r in stripe_conn.requests if r["path"] == "/v1/subscription_items"]
    assert [dict(r["query"])["subscription"] for r in pages] == [subscription["id"]] * 2


def test_the_list_operator_writes_every_line(invoices, stripe_env: FakeStripe, run_dag, tmp_path):
    out = tmp_path / "invoices.jsonl.gz"
    dag_run, _ = run_dag(
        dag_source(f"""
StripeListOperator(task_id="export", resource="invoices", output_path="{out}", parallelism=2)
StripeGetOperator(task_id="get", resource="invoices", object_id="{invoices[2]["id"]}")
""")
    )
    assert dag_run.state == "success"
    written = {r["id"]: r for r in map(json.loads, gzip.decompress(out.read_bytes()).splitlines())}
    assert {i: line_ids(r) for i, r in written.items()} == {i["id"]: line_ids(i) for i in invoices}
    assert line_ids(task_results(dag_run)["get"][1]) == line_ids(invoices[2])


def cut(url: Any = "keep", **changes: Any):
    """A transform that gives the first record's lines ``has_more`` and ``url`` (or other changes)."""

    def transform(body: dict[str, Any]) -> dict[str, Any]:
        record = body["data"][0] if "data" in body else body
        lines = {**record["lines"], "has_more": True, **changes}
        if url != "keep":
            lines["url"] = url
        record["lines"] = lines
        return body

    return transform


HOSTILE = {
    "another host": (cut("https://attacker.example/v1/invoices/in_1/lines"), "unusable url"),
    "scheme-relative host": (cut("//attacker.example/v1/x"), "unusable url"),
    "not under /v1": (cut("/v2/invoices/in_1/lines"), "unusable url"),
    "dot segments": (cut("/v1/invoices/in_1/../../customers"), "unusable url"),
    "escaped dot segments": (cut("/v1/invoices/in_1/%2e%2e/%2E%2E/customers"), "unusable url"),
    "a cursor in the query": (cut("/v1/invoices/in_1/lines?starting_after=x"), "unusable url"),
    "no url": (cut(None), "unusable url"),
    "no data to page from": (cut(data=[]), "no data to page from"),
    "a backslash": (cut("/v1/invoices\\..\\customers"), "unusable url"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_embedded_list_fails_without_following_it(invoices, stripe_conn: FakeStripe, name: str):
    transform, message = HOSTILE[name]
    stripe_conn.faults.append(Fault(transform=transform))
    stripe_conn.clear_log()
    with pytest.raises(StripeResponseError, match=message) as raised:
        StripeHook().get_object("invoices", invoices[0]["id"])
    assert "sk_" not in str(raised.value)
    assert len(stripe_conn.requests) == 1  # the object itself; nothing was followed


def test_a_sub_list_that_repeats_its_items_is_refused(invoices, stripe_conn: FakeStripe):
    big = invoices[2]
    hook = StripeHook()
    first = hook.get_object("invoices", big["id"], complete_lists=False)
    again = {"object": "list", "data": first["lines"]["data"][-5:-2], "has_more": True, "url": "/v1/x"}
    stripe_conn.faults.extend([Fault(), Fault(transform=lambda _: again)])
    with pytest.raises(StripeResponseError, match=r"repeated the item .* it would never end"):
        hook.get_object("invoices", big["id"])


def test_embedded_list_urls_are_parsed_strictly():
    assert embedded_list_request("/v1/invoices/in_1/lines") == ("invoices/in_1/lines", {})
    assert embedded_list_request("/v1/subscription_items?subscription=sub_1") == (
        "subscription_items",
        {"subscription": "sub_1"},
    )
    for url in ("/v1/", "/v1//x", "/v1/x#frag", "/v1/x?a=1&a", "v1/x", "/v1/x?expand[]=y", 5, "/v1/x y"):
        assert embedded_list_request(url) is None, url


def test_lists_inside_expanded_objects_are_completed_too(stripe_conn: FakeStripe, invoices):
    """An invoice with its subscription expanded (since basil under ``parent``): its items come whole."""
    [subscription] = stripe_conn.seed_objects("subscriptions", 1, embedded={"items": 30})
    served = StripeHook().get_object("subscriptions", subscription["id"], complete_lists=False)
    assert len(served["items"]["data"]) == 10 and served["items"]["has_more"]
    path = "parent.subscription_details.subscription"

    def expanded(body: dict[str, Any]) -> dict[str, Any]:
        parent = {"type": "subscription_details", "subscription_details": {"subscription": served}}
        return {**body, "parent": parent}

    stripe_conn.faults.append(Fault(transform=expanded))
    got = StripeHook().get_object("invoices", invoices[0]["id"], expand=[path])
    within = got["parent"]["subscription_details"]["subscription"]
    assert line_ids(within, "items") == line_ids(subscription, "items")
    assert within["items"]["has_more"] is False


def test_expand_reaches_the_items_paged_after_the_first_ten(invoices, stripe_conn: FakeStripe):
    big = invoices[2]
    stripe_conn.clear_log()
    StripeHook().get_object("invoices", big["id"], expand=["lines.data.discounts", "customer"])
    pages = [
        dict(r["query"]) | {"expand": [v for k, v in r["query"] if k == "expand[]"]}
        for r in stripe_conn.requests
    ]
    assert pages[0]["expand"] == ["lines.data.discounts", "customer"]
    assert [p["expand"] for p in pages[1:]] == [["data.discounts"]] * 3
    with StripeHook().iter_objects("invoices", expand=["data.lines.data.discounts"]) as records:
        list(records)
    sub_pages = [r for r in stripe_conn.requests if r["path"].endswith("/lines")][3:]
    assert sub_pages and all(("expand[]", "data.discounts") in r["query"] for r in sub_pages)


def test_a_server_text_in_an_error_is_redacted_and_short(invoices, stripe_conn: FakeStripe):
    from tests.stripe_server import DEFAULT_KEY

    stripe_conn.faults.append(Fault(transform=cut(f"https://evil.example/?k={DEFAULT_KEY}&pad={'x' * 5000}")))
    with pytest.raises(StripeResponseError) as raised:
        StripeHook().get_object("invoices", invoices[0]["id"])
    assert DEFAULT_KEY not in str(raised.value) and len(str(raised.value)) < 400


def test_an_item_with_an_unhashable_id_is_a_stripe_error(invoices, stripe_conn: FakeStripe):
    def odd(body: dict[str, Any]) -> dict[str, Any]:
        body["lines"] = {
            **body["lines"],
            "has_more": True,
            "data": [{"id": {"x": 1}}, *body["lines"]["data"]],
        }
        return body

    stripe_conn.faults.append(Fault(transform=odd))
    with pytest.raises(StripeResponseError, match="an item without an id"):
        StripeHook().get_object("invoices", invoices[0]["id"])


def test_an_escaped_separator_is_not_followed(invoices, stripe_conn: FakeStripe):
    for url in ("/v1/invoices/in_1/%2e%2e%2f%2e%2e%2fcustomers", "/v1/invoices/in_1/..%5Ccustomers"):
        assert embedded_list_request(url) is None, url


def test_search_pages_that_cycle_fail_instead_of_looping(stripe_conn: FakeStripe):
    stripe_conn.seed_objects("products", 6)
    again: dict[str, Any] = {}

    def cycle(body: dict[str, Any]) -> dict[str, Any]:  # fresh page tokens, the first results again
        again.setdefault("data", body["data"])
        return {**body, "data": again["data"]}

    stripe_conn.random_faults = [Fault(transform=cycle)]
    stripe_conn.fault_rate = 1.0
    with (
        pytest.raises(StripeResponseError, match="its pages cycle"),
        StripeHook().search("products", "active:'true'", page_size=3) as results,
    ):
        list(results)
    assert len(stripe_conn.requests) == 2
