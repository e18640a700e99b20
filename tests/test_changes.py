"""Change capture through the public hook: events, the latest state per object, deletes, refetch, 30 days.

The central property: after any mix of creates, updates (several per customer,
some in one second), deletes and re-creates, a snapshot plus the changes of
consecutive windows equals the server's current state exactly, sequentially, in
parallel and through 429/5xx faults and dropped connections.
"""

from __future__ import annotations

import collections
import random
import time
from typing import Any

import pytest

from airflow_provider_stripe.api.changes import EVENT_KEY
from airflow_provider_stripe.exceptions import StripeParameterError, StripeResponseError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.stripe_server import EVENT_RETENTION, FakeStripe, Fault

DAY = 86400


def mutate(server: FakeStripe, rng: random.Random, start: int, seconds: int, count: int) -> None:
    """``count`` random creates, updates and deletes at random seconds of ``[start, start+seconds)``,
    in time order, several often in one second; deleted customers' emails come back as new customers."""
    gone_emails: list[str] = []
    for at in sorted(rng.randrange(start, start + seconds) for _ in range(count)):
        live = list(server.store().index)
        roll = rng.random()
        if roll < 0.2 or len(live) < 3:
            email = (
                gone_emails.pop()
                if gone_emails and rng.random() < 0.5
                else f"new{rng.random():.9f}@example.com"
            )
            server.create_customer(at=at, email=email, metadata={"wave": str(at)})
        elif roll < 0.85:
            customer_id = rng.choice(live[-20:] if rng.random() < 0.5 else live)  # recent ones churn more
            changes: dict[str, Any] = rng.choice(
                [
                    {"email": f"e{rng.random():.9f}@example.com"},
                    {"name": rng.choice(["Ada", "Grace", "Zoë Ω"]), "phone": None},
                    {"metadata": {"tier": rng.choice(["gold", "silver", ""])}},
                    {"address": {"city": rng.choice(["Lagos", "Kyoto"]), "line2": "Apt 4"}},
                    {"balance": rng.randrange(-1000, 1000)},
                ]
            )
            server.update_customer(customer_id, at=at, **changes)
            while rng.random() < 0.4:  # a burst: the same customer again in the same second
                if rng.random() < 0.2:
                    server.delete_customer(customer_id, at=at)
                    break
                server.update_customer(customer_id, at=at, name=f"burst {rng.random():.6f}")
        else:
            customer_id = rng.choice(live)
            gone_emails.append(server.store().customers[server.store().index[customer_id]]["email"])
            server.delete_customer(customer_id, at=at)


def apply(table: dict[str, dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """Merge change records into a table: upsert, or delete."""
    for record in records:
        row = {key: value for key, value in record.items() if key != EVENT_KEY}
        if row.get("deleted"):
            table.pop(row["id"], None)
        else:
            table[row["id"]] = row


def windows(start: int, end: int, size: int) -> list[dict[str, int]]:
    return [{"gte": lo, "lt": min(lo + size, end)} for lo in range(start, end, size)]


@pytest.mark.parametrize(
    ("seed", "parallelism", "faults"),
    [(1, 1, False), (2, 1, False), (3, 4, False), (4, 4, True), (5, 1, True), (6, 8, False)],
)
def test_snapshot_plus_changes_equals_the_account(stripe_conn: FakeStripe, seed, parallelism, faults):
    server, rng = stripe_conn, random.Random(seed)
    now = int(time.time())
    start = now - 3 * DAY
    server.seed(60, start=now - 90 * DAY, spacing=3600)  # an account older than the events Stripe keeps
    hook = StripeHook(max_retries=12)  # a quarter of answers fail: six in a row must not end the test
    # Half the changes happen before the snapshot and half after; the windows start before the
    # snapshot: an overlap is harmless, only a gap loses changes.
    mutate(server, rng, start, 150, 150)
    table = {c["id"]: c for c in hook.iter_customers(parallelism=parallelism)}
    mutate(server, rng, start + 150, 150, 150)
    seconds = collections.Counter((e["data"]["object"]["id"], e["created"]) for e in server.store().events)
    assert max(seconds.values()) > 1, "some customer changes more than once in one second"
    if faults:
        server.fault_rate = 0.25
        server.random_faults = [
            Fault(status=429),
            Fault(status=500),
            Fault(status=503, headers={"Stripe-Should-Retry": "true"}),
            Fault(drop=True),
            Fault(cut="length"),
        ]
    totals = {"upserts": 0, "deletes": 0}
    for window in windows(start, start + 300, 37):
        with hook.iter_changes("customers", created=window, parallelism=parallelism, page_size=7) as changes:
            records = list(changes)
        assert changes.window == (window["gte"], window["lt"])
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), "one record per changed customer"
        assert all(window["gte"] <= r[EVENT_KEY]["created"] < window["lt"] for r in records)
        totals["upserts"] += changes.upserts
        totals["deletes"] += changes.deletes
        apply(table, records)
    server.fault_rate = 0.0
    assert table == server.customers_now()
    assert totals["upserts"] > 50 and totals["deletes"] > 10
    if faults:
        assert any(r.get("status") in (429, 500, 503, "dropped") for r in server.requests)


def test_same_second_changes_resolve_in_stripe_list_order(stripe_conn: FakeStripe):
    """Several events of one customer in one second: the one Stripe lists first (the latest) wins,
    across page boundaries and with parallel workers; ids, which are random, play no part."""
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 3600
    a, b, c, d = (server.create_customer(at=at - 10)["id"] for _ in range(4))
    for i in range(12):  # one second, 12 updates to a
        server.update_customer(a, at=at, name=f"a{i}")
    server.update_customer(b, at=at, name="b-before-delete")
    server.delete_customer(b, at=at)
    server.update_customer(c, at=at, name="c0")
    server.update_customer(c, at=at, name="c1")
    e = server.create_customer(at=at, name="e0")["id"]
    server.update_customer(e, at=at, name="e1")
    server.update_customer(d, at=at + 1, name="d-later")
    server.update_customer(d, at=at, name="d-earlier")  # emitted later, but in an earlier second
    for parallelism, page_size in ((1, 100), (1, 2), (4, 2), (4, 1)):
        with hook.iter_changes(
            "customers", created={"gte": at, "lt": at + 2}, parallelism=parallelism, page_size=page_size
        ) as changes:
            got = {r["id"]: r for r in changes}
        assert got[a]["name"] == "a11", (parallelism, page_size)
        assert got[b] == {
            "id": b,
            "object": "customer",
            "deleted": True,
            EVENT_KEY: got[b][EVENT_KEY],
        }
        assert got[b][EVENT_KEY]["type"] == "customer.deleted"
        assert got[c]["name"] == "c1" and got[e]["name"] == "e1" and got[d]["name"] == "d-later"
        assert changes.upserts == 4 and changes.deletes == 1 and changes.changed == 5


def test_records_carry_their_event_without_clobbering_stripe_fields(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 60
    customer = server.create_customer(at=at - 5)
    server.update_customer(customer["id"], at=at, email="changed@example.com")
    event = server.store().events[-1]
    (record,) = hook.iter_changes("customers", created={"gte": at - 1, "lt": at + 1})
    assert record[EVENT_KEY] == {
        "id": event["id"],
        "type": "customer.updated",
        "created": at,
        "api_version": server.api_version,
        "refetched": False,
    }
    stripe_fields = {k: v for k, v in record.items() if k != EVENT_KEY}
    assert stripe_fields == event["data"]["object"] == server.customers_now()[customer["id"]]
    assert event["data"]["previous_attributes"] == {"email": customer["email"]}
    assert event["request"]["id"] is None and event["object"] == "event"


def test_events_request_only_the_three_change_types_in_the_window(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 600
    server.create_customer(at=at)
    server.emit(server.store(), "customer.discount.created", {"id": "di_1", "object": "discount"}, at=at)
    server.clear_log()
    records = list(hook.iter_changes("customers", created={"gte": at, "lt": at + 60}))
    assert [r["object"] for r in records] == ["customer"]
    (request,) = server.requests
    assert request["path"] == "/v1/events"
    assert [v for k, v in request["query"] if k == "types[]"] == [
        "customer.created",
        "customer.updated",
        "customer.deleted",
    ]
    assert ("created[gte]", str(at)) in request["query"] and ("created[lt]", str(at + 60)) in request["query"]


def test_refetch_reads_current_objects_in_the_connection_version_with_expand(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 3600
    ids = [server.create_customer(at=at)["id"] for _ in range(25)]
    for customer_id in ids[:10]:
        server.update_customer(customer_id, at=at + 1, name="in window")
    server.delete_customer(ids[10], at=at + 2)
    # After the window: a later change and a deletion the refetch sees (the next window has them too).
    server.update_customer(ids[0], at=at + 100, name="after window")
    server.delete_customer(ids[1], at=at + 100)
    server.clear_log()
    window = {"gte": at, "lt": at + 10}
    with hook.iter_changes(
        "customers", created=window, refetch=True, expand="default_source", parallelism=4
    ) as ch:
        got = {r["id"]: r for r in ch}
    assert got[ids[0]]["name"] == "after window" and got[ids[0]][EVENT_KEY]["refetched"] is True
    assert got[ids[1]]["deleted"] is True and got[ids[1]][EVENT_KEY]["type"] == "customer.updated"
    assert got[ids[10]]["deleted"] is True and got[ids[10]][EVENT_KEY]["refetched"] is False
    current = server.customers_now()
    for customer_id in ids[2:10] + ids[11:]:
        assert {k: v for k, v in got[customer_id].items() if k != EVENT_KEY} == current[customer_id]
    retrieves = [r for r in server.requests if r["path"].startswith("/v1/customers/")]
    assert len(retrieves) == 24  # one per changed customer not deleted in the window
    assert all(r["query"] == [("expand[]", "default_source")] for r in retrieves)
    assert ch.upserts == 23 and ch.deletes == 2


def test_refetch_is_paced_by_the_client(stripe_server: FakeStripe, monkeypatch):
    from tests.conftest import conn_json

    monkeypatch.setenv(
        "AIRFLOW_CONN_STRIPE_DEFAULT", conn_json(stripe_server.url, max_requests_per_second=20)
    )
    at = int(time.time()) - 3600
    for _ in range(20):
        stripe_server.create_customer(at=at)
    stripe_server.latency = 0.05
    started = time.monotonic()
    records = list(StripeHook().iter_changes("customers", created={"gte": at}, refetch=True, parallelism=8))
    elapsed = time.monotonic() - started
    assert len(records) == 20
    times = sorted(r["time"] for r in stripe_server.requests)
    assert times[-1] - times[0] >= 20 / 20 * 0.9, "21 requests at 20/s take at least a second"
    assert elapsed < 10


def test_refetch_answer_for_another_object_is_refused(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 600
    server.create_customer(at=at)
    other = server.create_customer(at=at - 100)
    server.faults.append(Fault())  # the events page as it is
    server.faults.append(Fault(transform=lambda body: {**body, "id": other["id"]}))
    with pytest.raises(StripeResponseError, match="answered a request for customer"):
        list(hook.iter_changes("customers", created={"gte": at - 1}, refetch=True))


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        (lambda e: {**e, "type": "customer.discount.created"}, "was not asked for"),
        (lambda e: {**e, "data": {}}, "no data.object with an id"),
        (lambda e: {**e, "data": {"object": {"id": "in_1", "object": "invoice"}}}, "not a 'customer'"),
        (lambda e: {**e, "created": "yesterday"}, "not a second of the window"),
        (lambda e: {**e, "created": 5}, "not a second of the window"),
        (lambda e: {**e, "type": "x" * 5000}, r"'xxxxx.*(\.\.\.|…) was not asked for"),
    ],
)
def test_malformed_events_are_malformed_answers(stripe_conn: FakeStripe, transform, message):
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 600
    server.create_customer(at=at)
    server.faults.append(Fault(transform=lambda body: {**body, "data": [transform(e) for e in body["data"]]}))
    with pytest.raises(StripeResponseError, match=message):
        list(hook.iter_changes("customers", created={"gte": at - 1}))


@pytest.mark.parametrize(
    ("kwargs", "param", "message"),
    [
        ({"created": {"gte": time.time() - 31 * DAY}}, "created", "more than 30 days ago"),
        ({"created": {"gte": time.time() - 30 * DAY + 60}}, "created", "full export"),
        ({"created": {"lt": time.time()}}, "created", "give the window's start"),
        ({"created": {"gte": time.time() + 3600}}, "created", "starts in the future"),
        ({"created": {"gte": time.time() - 60, "lt": time.time() + 3600}}, "created", "cannot be read yet"),
        ({"created": {"gte": time.time() - 60}, "settle_seconds": -1}, "settle_seconds", "at least 0"),
        ({"created": {"gte": time.time() - 60}, "expand": ["default_source"]}, "expand", "refetch=True"),
        ({"created": {"gte": time.time() - 60}, "parallelism": 0}, "parallelism", "at least 1"),
        ({"created": {"gte": time.time() - 60}, "page_size": 101}, "page_size", "at most 100"),
    ],
)
def test_bad_windows_fail_before_any_request(stripe_conn: FakeStripe, kwargs, param, message):
    with pytest.raises(StripeParameterError, match=message) as raised:
        StripeHook().iter_changes("customers", **kwargs)
    assert raised.value.param == param
    assert stripe_conn.requests == []


def test_unknown_resource_fails_before_any_request(stripe_conn: FakeStripe):
    with pytest.raises(StripeParameterError, match="unknown Stripe resource 'invoicez'; known: accounts, "):
        StripeHook().iter_changes("invoicez", created={"gte": time.time() - 60})
    with pytest.raises(StripeParameterError, match="'charges' has no change capture yet"):
        StripeHook().iter_changes("charges", created={"gte": time.time() - 60})
    assert stripe_conn.requests == []


def test_thirty_days_is_what_the_server_keeps(stripe_conn: FakeStripe):
    """The rule the hook enforces is the server's: older events are gone, the listing silently shorter."""
    server, hook = stripe_conn, StripeHook()
    now = int(time.time())
    server.create_customer(at=now - EVENT_RETENTION - 10)
    kept = server.create_customer(at=now - EVENT_RETENTION + 7200)
    events = list(hook.iter_events("customer.*"))
    assert [e["data"]["object"]["id"] for e in events] == [kept["id"]]


# -- iter_events ------------------------------------------------------------------------------


def test_iter_events_pattern_names_and_more_than_twenty_types(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    at = int(time.time()) - 1000
    customer = server.create_customer(at=at)
    server.update_customer(customer["id"], at=at + 1, name="x")
    for i in range(25):
        server.emit(server.store(), f"thing.kind{i}", {"id": f"th_{i}", "object": "thing"}, at=at + 2 + i)
    assert len(list(hook.iter_events("customer.*"))) == 2
    assert len(list(hook.iter_events(["customer.updated", "thing.kind3"]))) == 2
    server.clear_log()
    names = [f"thing.kind{i}" for i in range(25)] + ["customer.created", "thing.kind0"]
    got = list(hook.iter_events(names, page_size=4))
    assert sorted(e["type"] for e in got) == sorted(set(names))
    listings = [[v for k, v in r["query"] if k == "types[]"] for r in server.requests]
    assert all(len(types) <= 20 for types in listings)
    assert len({tuple(types) for types in listings}) == 2, "26 names: two listings"
    # max_records counts across the listings, and says when it cut the list short.
    with hook.iter_events(names, max_records=22) as events:
        assert len(list(events)) == 22 and events.has_more is True
    with hook.iter_events(names, max_records=26) as events:
        assert len(list(events)) == 26 and events.has_more is False


def test_iter_events_both_directions_and_parallel_windows(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    now = int(time.time())
    for i in range(40):
        server.create_customer(at=now - 5000 + i * 100)
    newest_first = list(hook.iter_events("customer.created", page_size=7))
    assert [e["created"] for e in newest_first] == sorted((e["created"] for e in newest_first), reverse=True)
    assert len(newest_first) == 40
    older = list(hook.iter_events("customer.created", starting_after=newest_first[9]["id"], page_size=7))
    assert older == newest_first[10:]
    newer = list(hook.iter_events("customer.created", ending_before=newest_first[20]["id"], page_size=7))
    assert newer == list(reversed(newest_first[:20]))  # oldest to newest towards the cursor
    window = {"gte": now - 4000, "lt": now - 2000}
    parallel = list(hook.iter_events("customer.created", created=window, parallelism=4, page_size=3))
    expected = [e for e in newest_first if window["gte"] <= e["created"] < window["lt"]]
    assert sorted(e["id"] for e in parallel) == sorted(e["id"] for e in expected) and len(parallel) == 20


@pytest.mark.parametrize(
    ("types", "message"),
    [
        (["customer.*", "customer.updated"], "must be the only type"),
        ([], "at least one event type"),
        ("customer updated", "is not an event type"),
        (["customer.updated", 7], "is not an event type"),
        ("customer.updated&type=x", "is not an event type"),
    ],
)
def test_iter_events_refuses_bad_types_before_any_request(stripe_conn: FakeStripe, types, message):
    with pytest.raises(StripeParameterError, match=message):
        StripeHook().iter_events(types)
    assert stripe_conn.requests == []


def test_iter_events_refuses_a_window_older_than_thirty_days(stripe_conn: FakeStripe):
    with pytest.raises(StripeParameterError, match="Stripe keeps events 30 days"):
        StripeHook().iter_events(created={"gte": time.time() - 40 * DAY})
    with pytest.raises(StripeParameterError, match="delivery_success"):
        StripeHook().iter_events(delivery_success="yes")  # type: ignore[arg-type]
    assert stripe_conn.requests == []


def test_server_events_endpoint_behaves_like_stripe(stripe_conn: FakeStripe):
    import requests

    headers = {"Authorization": "Bearer sk_test_fakeserverkey"}
    url = f"{stripe_conn.url}/v1/events"
    both = requests.get(url, params={"type": "customer.*", "types[]": "customer.updated"}, headers=headers)
    assert both.status_code == 400 and both.json()["error"]["param"] == "types"
    many = requests.get(url, params=[("types[]", f"a.b{i}") for i in range(21)], headers=headers)
    assert many.status_code == 400
    created = requests.post(
        f"{stripe_conn.url}/v1/customers", data={"email": "a@b.co", "metadata[k]": "v"}, headers=headers
    ).json()
    updated = requests.post(
        f"{stripe_conn.url}/v1/customers/{created['id']}", data={"name": "N"}, headers=headers
    ).json()
    gone = requests.delete(f"{stripe_conn.url}/v1/customers/{created['id']}", headers=headers).json()
    assert created["metadata"] == {"k": "v"} and updated["name"] == "N" and gone["deleted"] is True
    events = requests.get(url, headers=headers).json()["data"]
    assert [e["type"] for e in events] == ["customer.deleted", "customer.updated", "customer.created"]
    assert events[1]["data"]["previous_attributes"] == {"name": created["name"]}
    assert all(e["request"]["id"].startswith("req_") for e in events)
    one = requests.get(f"{url}/{events[0]['id']}", headers=headers).json()
    assert one == events[0]


# -- the operator, as a real Airflow task --------------------------------------------------------

OPERATOR_DAG = """
import pendulum
from airflow.sdk import DAG, Asset
from airflow_provider_stripe.operators import StripeCustomerChangesOperator
with DAG("DAG_ID", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False,
         params={{"start": {start}, "end": {end}}}) as dag:
    StripeCustomerChangesOperator(
        task_id="to_xcom", created={{"gte": "{{{{ params.start }}}}", "lt": "{{{{ params.end }}}}"}})
    StripeCustomerChangesOperator(
        task_id="to_file", created={{"gte": {start}, "lt": {end}}}, refetch="{{{{ params.start > 0 }}}}",
        expand=["default_source"], parallelism="{{{{ 2 + 1 }}}}", output_path="{out}/changes.jsonl.gz",
        outlets=[Asset("stripe_customer_changes")])
    StripeCustomerChangesOperator(task_id="capped", created={{"gte": {start}}}, max_xcom_records=2)
    StripeCustomerChangesOperator(task_id="too_old", created={{"gte": {start} - 40 * 86400}}, retries=3)
"""


def test_operator_returns_upserts_deletes_and_the_window(stripe_conn: FakeStripe, run_dag, tmp_path):
    import gzip
    import json

    from tests.conftest import task_results

    server = stripe_conn
    start = int(time.time()) - 7200
    end = start + 3600
    kept = [server.create_customer(at=start + 10 + i)["id"] for i in range(3)]
    server.update_customer(kept[0], at=start + 100, name="renamed")
    server.delete_customer(kept[1], at=start + 200)
    server.create_customer(at=end + 5)  # the next window's
    dag_run, _ = run_dag(OPERATOR_DAG.format(start=start, end=end, out=tmp_path))
    results = task_results(dag_run)
    window = {"gte": start, "lt": end}
    to_xcom = results["to_xcom"]
    assert to_xcom[0] == "success"
    assert {k: v for k, v in to_xcom[1].items() if k != "data"} == {
        "object": "list",
        "url": "/v1/events",
        "has_more": False,
        "upserts": 2,
        "deletes": 1,
        "window": window,
    }
    assert [r["id"] for r in to_xcom[1]["data"]] == [kept[2], kept[0], kept[1]]  # oldest change first
    assert to_xcom[1]["data"][1]["name"] == "renamed" and to_xcom[1]["data"][2]["deleted"] is True
    to_file = results["to_file"]
    path = tmp_path / "changes.jsonl.gz"
    assert to_file == (
        "success",
        {
            "path": f"file://{path}",
            "records": 3,
            "format": "jsonl",
            "has_more": False,
            "upserts": 2,
            "deletes": 1,
            "window": window,
        },
    )
    records = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert [r[EVENT_KEY]["refetched"] for r in records] == [
        True,
        True,
        False,
    ]  # the deleted one is not refetched
    refetches = [r for r in server.requests if r["path"].startswith("/v1/customers/")]
    assert len(refetches) == 2 and all(("expand[]", "default_source") in r["query"] for r in refetches)
    # Too many for XCom: the task fails on its first try, and nothing is pushed.
    assert results["capped"] == ("failed", None)
    # A window older than the events Stripe keeps fails on the first try, retries or not.
    too_old = dag_run.get_task_instance("too_old")
    assert too_old.state == "failed" and too_old.try_number == 1
    link = dag_run.get_task_instance("to_file").xcom_pull(task_ids="to_file", key="_link_StripeDashboardLink")
    assert link == "https://dashboard.stripe.com/test/events"


def test_operator_construction_only_assigns_and_maps():
    from airflow_provider_stripe.operators import StripeCustomerChangesOperator

    op = StripeCustomerChangesOperator(task_id="c", created={"gte": "{{ ds }}"}, refetch="{{ params.r }}")
    assert (op.created, op.refetch, op.parallelism, op.output_format) == (
        {"gte": "{{ ds }}"},
        "{{ params.r }}",
        1,
        "jsonl",
    )
    assert {"created", "refetch", "expand", "output_path", "stripe_account", "parallelism"} <= set(
        op.template_fields
    )
    mapped = StripeCustomerChangesOperator.partial(task_id="m").expand(
        created=[{"gte": 1}], stripe_account=["acct_1"]
    )
    assert set(mapped.expand_input.value) == {"created", "stripe_account"}
    with pytest.raises(TypeError):
        StripeCustomerChangesOperator(task_id="no_window")  # the window is required


def test_operator_lineage_names_the_customers_dataset(stripe_conn: FakeStripe, tmp_path):
    from airflow_provider_stripe.operators import StripeCustomerChangesOperator

    start = int(time.time()) - 600
    stripe_conn.create_customer(at=start + 1)
    op = StripeCustomerChangesOperator(task_id="c", created={"gte": start}, output_path=f"{tmp_path}/c.jsonl")
    op.execute({"outlet_events": {}})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("stripe://test/platform", "customers")]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [("file", f"{tmp_path}/c.jsonl")]


# -- the settle margin: the window never reaches into the last moments ---------------------------


def test_an_open_window_ends_settle_seconds_ago_and_the_next_one_reads_the_rest(stripe_conn: FakeStripe):
    server, hook = stripe_conn, StripeHook()
    now = int(time.time())
    old = server.create_customer(at=now - 600)
    recent = server.create_customer(at=now - 5)  # may not be listable yet at Stripe
    with hook.iter_changes("customers", created={"gte": now - 900}) as first:
        assert [r["id"] for r in first] == [old["id"]]
    start, end = first.window
    assert start == now - 900 and now - 62 <= end <= now - 59
    with hook.iter_changes("customers", created={"gte": end}, settle_seconds=0) as second:
        assert [r["id"] for r in second] == [recent["id"]]
    assert second.window[0] == end


def test_a_window_that_starts_inside_the_margin_is_empty_and_sends_nothing(stripe_conn: FakeStripe):
    start = int(time.time()) - 10
    stripe_conn.create_customer(at=start + 1)
    with StripeHook().iter_changes("customers", created={"gte": start}) as changes:
        assert list(changes) == []
    assert changes.window == (start, start) and (changes.upserts, changes.deletes) == (0, 0)
    assert stripe_conn.requests == []


def test_an_end_inside_the_margin_waits_for_it_to_pass(stripe_conn: FakeStripe):
    """A scheduled run starting right at its interval's end reads the whole interval."""
    server, hook = stripe_conn, StripeHook()
    end = int(time.time()) + 1
    started = time.monotonic()
    changes = hook.iter_changes("customers", created={"gte": end - 60, "lt": end}, settle_seconds=1.5)
    assert time.monotonic() - started < 0.5, "building the iterator does not wait"
    late = server.create_customer(at=end - 1)  # in the window's last second
    assert [r["id"] for r in changes] == [late["id"]]
    assert time.monotonic() - started >= 1.5 and changes.window == (end - 60, end)


# -- hostile answers and careless callers ----------------------------------------------------------


def test_hook_refetch_takes_template_strings(stripe_conn: FakeStripe):
    at = int(time.time()) - 600
    stripe_conn.create_customer(at=at)
    records = list(StripeHook().iter_changes("customers", created={"gte": at}, refetch="false"))
    assert records[0][EVENT_KEY]["refetched"] is False
    assert not [r for r in stripe_conn.requests if r["path"].startswith("/v1/customers/")]
    with pytest.raises(StripeParameterError, match="refetch"):
        StripeHook().iter_changes("customers", created={"gte": at}, refetch="no")


def test_a_404_on_refetch_fails_rather_than_deleting_a_row(stripe_conn: FakeStripe):
    """Stripe answers a deleted customer with 200 {"deleted": true}: a 404 is a wrong URL or a proxy."""
    from airflow_provider_stripe.exceptions import StripeNotFoundError

    at = int(time.time()) - 600
    stripe_conn.create_customer(at=at)
    stripe_conn.faults.append(Fault())  # the events page
    stripe_conn.faults.append(Fault(status=404, code="resource_missing"))
    with pytest.raises(StripeNotFoundError):
        list(StripeHook().iter_changes("customers", created={"gte": at}, refetch=True))


def test_an_echoed_key_never_reaches_an_error_message(stripe_conn: FakeStripe):
    from tests.stripe_server import DEFAULT_KEY

    at = int(time.time()) - 600
    stripe_conn.create_customer(at=at)
    echo = Fault(transform=lambda body: {**body, "data": [{**e, "type": DEFAULT_KEY} for e in body["data"]]})
    stripe_conn.faults.append(echo)
    with pytest.raises(StripeResponseError) as raised:
        list(StripeHook().iter_changes("customers", created={"gte": at}))
    assert DEFAULT_KEY not in str(raised.value) and "sk_test_" in str(raised.value)


def test_a_dropped_iterator_stops_its_refetches_without_a_gc_pass(stripe_conn: FakeStripe):
    import gc
    import threading

    at = int(time.time()) - 600
    for _ in range(60):
        stripe_conn.create_customer(at=at)
    stripe_conn.latency = 0.05
    gc.disable()
    try:
        changes = StripeHook().iter_changes("customers", created={"gte": at}, refetch=True, parallelism=8)
        next(changes)
        del changes
        deadline = time.monotonic() + 2
        while any(t.name.startswith("stripe-retrieve") for t in threading.enumerate()):
            assert time.monotonic() < deadline, "refetch threads outlived their iterator"
            time.sleep(0.05)
    finally:
        gc.enable()
    sent = len([r for r in stripe_conn.requests if r["path"].startswith("/v1/customers/")])
    assert sent < 40, f"{sent} refetches after the iterator was dropped"


def test_a_server_cycling_through_pages_is_refused(stripe_conn: FakeStripe):
    """Pages that go back in created order would loop for ever, spending the read allocation."""
    pages: list[dict] = []

    def remember(body):
        pages.append(body)
        return body

    stripe_conn.seed(30)
    stripe_conn.faults.extend(
        [Fault(transform=remember), Fault(transform=remember), Fault(transform=lambda b: {**pages[0]})]
    )  # pages 1, 2, then page 1 again: not the cursor, but back to newer customers
    with pytest.raises(StripeResponseError, match="goes back in created order"):
        list(StripeHook().iter_customers(page_size=10))
    assert len(stripe_conn.requests) == 3


def test_changes_file_as_a_list_object_names_the_events_url(stripe_conn: FakeStripe, tmp_path):
    import json

    from airflow_provider_stripe.operators import StripeCustomerChangesOperator

    at = int(time.time()) - 600
    stripe_conn.create_customer(at=at)
    op = StripeCustomerChangesOperator(
        task_id="c", created={"gte": at}, output_path=f"{tmp_path}/c.json", output_format="json"
    )
    op.execute({"outlet_events": {}})
    written = json.loads((tmp_path / "c.json").read_text())
    assert written["url"] == "/v1/events" and len(written["data"]) == 1 and written["has_more"] is False
