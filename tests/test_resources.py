"""One suite for every registered Stripe object: list, get, search and parallel export, exactly once.

Each test runs for every row of the registry (``resources.RESOURCES``) against the
test server, which serves each object in the shape of Stripe's own example
(``tests/data/stripe-openapi-objects.json``). Nothing here is written per object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_stripe.api.registry import (
    ARRAY,
    BOOLEAN,
    ID,
    INTEGER,
    RANGE,
    RESOURCES,
    STRING,
    Resource,
)
from airflow_provider_stripe.exceptions import StripeParameterError
from airflow_provider_stripe.hooks.stripe import StripeHook
from tests.stripe_server import FakeStripe

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "data" / "stripe-openapi-objects.json").read_text()
)["resources"]
ALL = sorted(name for name, row in RESOURCES.items() if not row.singleton)  # lists
WITH_CREATED = [path for path in ALL if RESOURCES[path].created]
SEARCHABLE = [path for path in ALL if RESOURCES[path].searchable]
WITH_FILTERS = [path for path in ALL if RESOURCES[path].filters]
COUNT = 230  # three pages of 100, and a partial one
START = 1_600_000_000


#: Where a child collection's parent comes from, and the list of it that holds the children (if any).
PARENTS = {"customer": ("customers", None), "account": ("accounts", "external_accounts")}
PARENTS |= {"subscription": ("subscriptions", "items")}


def seed(server: FakeStripe, path: str, count: int = COUNT, **kwargs: Any) -> list[dict[str, Any]]:
    """``count`` objects of ``path`` an hour apart, newest first (events: from customer changes).

    A child collection's objects all get one new parent (see :func:`where`)."""
    if path == "events":
        now = server.now()
        for i in range(count):
            server.create_customer(at=now - 3600 * (count - i))
        return sorted(server.objects_now("events").values(), key=lambda e: e["created"], reverse=True)
    row = RESOURCES[path]
    if row.parent is not None and "parent" not in kwargs:
        parent_path, embedded = PARENTS[row.parent]
        if parent_path == "customers":
            [parent] = server.seed(1)
        else:  # with none of the example's own children, so that only these are listed
            [parent] = server.seed_objects(parent_path, 1, embedded={embedded: 0} if embedded else None)
        kwargs["parent"] = parent["id"]
    return server.seed_objects(row.path, count, start=kwargs.pop("start", START), spacing=3600, **kwargs)


def where(path: str, seeded: list[dict[str, Any]], *, get: bool = False) -> dict[str, Any]:
    """The hook's ``parent_id`` for the seeded objects of a child collection (they name it).

    To get one: only where the path names the parent (a subscription item's id is enough)."""
    row = RESOURCES[path]
    if row.parent is None or (get and not row.parent_in_path):
        return {}
    return {"parent_id": seeded[0][row.parent]}


def hidden(path: str) -> set[str]:
    """Embedded lists Stripe includes only when expanded (absent from its example object)."""
    spec = SPEC[RESOURCES[path].path]
    return {name for name in spec["lists"] if name not in spec["fixture"]}


def as_served(path: str, stored: dict[str, Any]) -> dict[str, Any]:
    """An object as a complete answer holds it: every embedded list whole, expand-only ones left out."""
    return {key: value for key, value in stored.items() if key not in hidden(path)}


def stamp(row: Resource, record: dict[str, Any]) -> int:
    value = record[row.created_field]
    assert isinstance(value, int)
    return value


@pytest.mark.parametrize("path", ALL)
def test_lists_every_object_once_newest_first_with_whole_embedded_lists(stripe_conn: FakeStripe, path: str):
    seeded = seed(stripe_conn, path)
    stored = {s["id"]: s for s in seeded}
    with StripeHook().iter_objects(path, **where(path, seeded)) as records:
        listed = list(records)
    assert [r["id"] for r in listed] == [s["id"] for s in seeded]
    assert listed == [as_served(path, stored[r["id"]]) for r in listed]
    assert records.pages == 3 and records.records == COUNT
    assert {r["object"] for r in listed} <= set(RESOURCES[path].objects)


@pytest.mark.parametrize("path", ALL)
def test_one_page_and_cursors(stripe_conn: FakeStripe, path: str):
    seeded = seed(stripe_conn, path, 25)
    hook, parent = StripeHook(), where(path, seeded)
    first = hook.list_objects(path, limit=10, **parent)
    assert (first["object"], first["has_more"]) == ("list", True)
    assert [r["id"] for r in first["data"]] == [s["id"] for s in seeded[:10]]
    after = hook.list_objects(path, limit=10, starting_after=seeded[9]["id"], **parent)
    assert [r["id"] for r in after["data"]] == [s["id"] for s in seeded[10:20]]
    with hook.iter_objects(path, ending_before=seeded[5]["id"], **parent) as newer:
        assert [r["id"] for r in newer] == [s["id"] for s in reversed(seeded[:5])]
    with hook.iter_objects(path, max_records=7, page_size=3, **parent) as limited:
        assert len(list(limited)) == 7 and limited.has_more


@pytest.mark.parametrize("path", WITH_CREATED)
def test_created_window_and_parallel_export_exactly_once(stripe_conn: FakeStripe, path: str):
    row = RESOURCES[path]
    seeded = seed(stripe_conn, path)
    low, high = stamp(row, seeded[-40]), stamp(row, seeded[30])  # 40 oldest out, 30 newest out
    window = {"gte": low, "lt": high}
    expected = [s["id"] for s in seeded if low <= stamp(row, s) < high]
    hook, parent = StripeHook(), where(path, seeded)
    with hook.iter_objects(path, created=window, **parent) as records:
        assert [r["id"] for r in records] == expected
    with hook.iter_objects(path, created=window, parallelism=4, page_size=10, **parent) as records:
        exported = [r["id"] for r in records]
    assert sorted(exported) == sorted(expected)  # every one, none twice
    assert records.records == len(expected)
    with hook.iter_objects(path, parallelism=3, page_size=25, **parent) as records:
        assert sorted(r["id"] for r in records) == sorted(s["id"] for s in seeded)


@pytest.mark.parametrize("path", [p for p in ALL if not RESOURCES[p].created])
def test_created_and_parallelism_refused_where_the_list_has_no_created(stripe_conn: FakeStripe, path: str):
    hook, parent = StripeHook(), {"parent_id": "x_1"} if RESOURCES[path].parent else {}
    with pytest.raises(StripeParameterError, match="cannot be filtered by created"):
        hook.iter_objects(path, created={"gte": START}, **parent)
    with pytest.raises(StripeParameterError, match="takes no created filter"):
        hook.iter_objects(path, parallelism=2, **parent)
    assert stripe_conn.requests == []


@pytest.mark.parametrize("path", ALL)
def test_gets_one_object_whole(stripe_conn: FakeStripe, path: str):
    seeded = seed(stripe_conn, path, 3)
    stored = {s["id"]: s for s in seeded}
    hook, parent = StripeHook(), where(path, seeded, get=True)
    for record in seeded:
        assert hook.get_object(path, record["id"], **parent) == as_served(path, stored[record["id"]])
    with pytest.raises(Exception, match="No such") as missing:
        hook.get_object(path, "xx_missing", **parent)
    assert getattr(missing.value, "http_status", None) == 404


# Customers are left out: the test server's customers have no sources, subscriptions or tax ids.
@pytest.mark.parametrize("path", [p for p in ALL if hidden(p) and p != "customers"])
def test_expand_only_lists_come_whole_when_expanded(stripe_conn: FakeStripe, path: str):
    name = sorted(hidden(path))[0]
    [record] = seed(stripe_conn, path, 1, embedded={name: 130})
    hook = StripeHook()
    got = hook.get_object(path, record["id"], expand=[name])
    assert len(got[name]["data"]) == 130 and got[name]["has_more"] is False
    assert name not in hook.get_object(path, record["id"])
    [listed] = hook.list_objects(path, expand=[f"data.{name}"])["data"]
    assert [item["id"] for item in listed[name]["data"]] == [item["id"] for item in got[name]["data"]]


@pytest.mark.parametrize("path", SEARCHABLE)
def test_search_pages_with_next_page_exactly_once(stripe_conn: FakeStripe, path: str):
    row = RESOURCES[path]
    seeded = seed(stripe_conn, path, 60)
    since = stamp(row, seeded[45])
    expected = {s["id"] for s in seeded if stamp(row, s) > since}
    hook = StripeHook()
    with hook.search(path, f"{row.created_field}>{since}", page_size=7) as results:
        found = [r["id"] for r in results]
    assert sorted(found) == sorted(expected) and len(found) == len(set(found))
    assert results.pages == -(-len(expected) // 7)
    searches = [r for r in stripe_conn.requests if r["path"] == f"/v1/{path}/search"]
    assert len(searches) == results.pages
    assert [dict(r["query"]).get("page") is None for r in searches] == [True] + [False] * (len(searches) - 1)
    with hook.search(path, f"{row.created_field}>{since}", max_records=5) as first:
        assert len(list(first)) == 5 and first.has_more


@pytest.mark.parametrize("path", [p for p in ALL if not RESOURCES[p].searchable])
def test_search_refused_where_stripe_has_none(stripe_conn: FakeStripe, path: str):
    with pytest.raises(
        StripeParameterError, match=f"{path} cannot be searched; these can: charges, customers"
    ):
        StripeHook().search(path, "created>1")
    assert stripe_conn.requests == []


def bad_value(kind: Any) -> Any:
    """A value no filter of ``kind`` accepts."""
    if isinstance(kind, tuple):
        return "not-a-" + kind[0]
    return {
        ID: "has space",
        BOOLEAN: "maybe",
        INTEGER: -1,
        RANGE: {"after": 5},
        ARRAY: [""],
        STRING: 123,
    }.get(kind, "x" * 600)


@pytest.mark.parametrize("path", WITH_FILTERS)
def test_filters_are_checked_before_any_request(stripe_conn: FakeStripe, path: str):
    row = RESOURCES[path]
    hook = StripeHook()
    parent = {"parent_id": "x_1"} if row.parent else {}
    with pytest.raises(StripeParameterError, match=f"the {path} list takes no filter 'colour'"):
        hook.iter_objects(path, colour="red", **parent)
    for name, kind in row.filters.items():
        with pytest.raises(StripeParameterError) as raised:
            hook.iter_objects(path, **{name: bad_value(kind)}, **parent)
        assert raised.value.param.startswith(name), (name, raised.value.param)
    assert stripe_conn.requests == []


def simple_filters(path: str) -> list[tuple[str, Any]]:
    """A row's enum and boolean filters on a field of the object itself (no default sent for them)."""
    row = RESOURCES[path]
    return [
        (name, kind)
        for name, kind in row.filters.items()
        if (isinstance(kind, tuple) or kind == BOOLEAN)
        and name in SPEC[row.path]["fixture"]
        and name not in row.list_defaults
    ]


@pytest.mark.parametrize("path", [p for p in ALL if simple_filters(p)])
def test_a_filter_reaches_stripe_and_narrows_the_list(stripe_conn: FakeStripe, path: str):
    """The first enum or boolean filter of each row, against objects that differ in that field."""
    name, kind = simple_filters(path)[0]
    values = [kind[0], kind[1]] if isinstance(kind, tuple) else [True, False]
    seeded = seed(stripe_conn, path, 10, **{name: lambda i: values[i % 2]})
    with StripeHook().iter_objects(path, **{name: values[0]}, **where(path, seeded)) as records:
        assert [r["id"] for r in records] == [s["id"] for s in seeded if s[name] == values[0]]


@pytest.mark.parametrize("path", ALL)
def test_unknown_resource_and_bad_ids_fail_before_any_request(stripe_conn: FakeStripe, path: str):
    hook = StripeHook()
    with pytest.raises(StripeParameterError, match="unknown Stripe resource"):
        hook.iter_objects(path + "x")
    with pytest.raises(StripeParameterError) as raised:
        hook.get_object(path, "..", **({"parent_id": "x_1"} if RESOURCES[path].parent_in_path else {}))
    assert raised.value.param == RESOURCES[path].id_param
    assert stripe_conn.requests == []


def test_stripes_own_default_stays_reachable(stripe_conn: FakeStripe):
    """Subscriptions list every status unless told; ``status=None`` asks for Stripe's own default."""
    seeded = seed(stripe_conn, "subscriptions", 6, status=lambda i: ("active", "canceled")[i % 2])
    hook = StripeHook()
    with hook.iter_objects("subscriptions") as every:
        assert len(list(every)) == 6
    with hook.iter_objects("subscriptions", status=None) as default:
        assert [s["id"] for s in default] == [s["id"] for s in seeded if s["status"] != "canceled"]
    assert dict(stripe_conn.requests[-1]["query"]).get("status") is None


def test_amount_ranges_take_amounts_not_dates(stripe_conn: FakeStripe):
    hook = StripeHook()
    topups = seed(stripe_conn, "topups", 4, amount=lambda i: 1000 * (i + 1))
    with hook.iter_objects("topups", amount={"gte": 2000, "lt": 4000}) as records:
        assert [r["amount"] for r in records] == [3000, 2000]
    for bad in ({"gte": "2024-01-01"}, {"gte": 10.5}, {"after": 5}, -1):
        with pytest.raises(StripeParameterError, match="amount"):
            hook.iter_objects("topups", amount=bad)
    assert len(topups) == 4


def test_events_listed_generically_keep_the_30_day_rule(stripe_conn: FakeStripe):
    with pytest.raises(StripeParameterError, match="more than 30 days ago"):
        StripeHook().iter_objects("events", created={"gte": "2020-01-01"})
    assert stripe_conn.requests == []


def test_what_stripe_took_since_2023_works(stripe_conn: FakeStripe):
    """2026-10-28.endive: created on checkout sessions and credit notes, their status, customer_account."""
    hook = StripeHook()
    window = {"gte": START, "lt": START + 3600 * 100}
    sessions = seed(
        stripe_conn, "checkout/sessions", 120, status=lambda i: ("complete", "open", "expired")[i % 3]
    )
    got = list(hook.iter_objects("checkout/sessions", created=window, status="complete"))
    want = [s["id"] for s in sessions if s["status"] == "complete" and s["created"] < window["lt"]]
    assert [s["id"] for s in got] == want and len(want) == 34
    notes = seed(stripe_conn, "credit_notes", 230)
    got = list(hook.iter_objects("credit_notes", created=window, parallelism=4))
    assert sorted(n["id"] for n in got) == sorted(n["id"] for n in notes if n["created"] < window["lt"])
    assert len(got) == len({n["id"] for n in got}) == 100
    invoices = seed(stripe_conn, "invoices", 40, customer_account=lambda i: f"acct_{i % 4}")
    got = list(hook.iter_objects("invoices", customer_account="acct_1"))
    assert [i["id"] for i in got] == [i["id"] for i in invoices if i["customer_account"] == "acct_1"]
    assert len(got) == 10


# -- child collections and singletons -------------------------------------------------------------
CHILDREN = sorted(name for name, row in RESOURCES.items() if row.parent is not None)


@pytest.mark.parametrize("path", CHILDREN)
def test_a_child_collection_needs_its_parent_and_lists_only_its_children(stripe_conn: FakeStripe, path: str):
    row = RESOURCES[path]
    hook = StripeHook()
    with pytest.raises(
        StripeParameterError, match=f"parent_id.*is required: {path} belong to a {row.parent}"
    ):
        hook.iter_objects(path)
    for bad in ("..", "a b", "x\n", "None", " None ", "   "):
        with pytest.raises(StripeParameterError, match="parent_id"):
            hook.iter_objects(path, parent_id=bad)
    assert stripe_conn.requests == []
    mine, theirs = seed(stripe_conn, path, 12), seed(stripe_conn, path, 5)
    with hook.iter_objects(path, **where(path, mine)) as records:
        assert [r["id"] for r in records] == [m["id"] for m in mine]
    assert where(path, mine) != where(path, theirs)


def test_a_resource_without_parent_refuses_one(stripe_conn: FakeStripe):
    with pytest.raises(StripeParameterError, match="invoices have no parent"):
        StripeHook().iter_objects("invoices", parent_id="cus_1")
    assert stripe_conn.requests == []


def test_the_balance_is_one_object_with_no_id(stripe_conn: FakeStripe):
    hook = StripeHook()
    balance = hook.get_object("balance")
    assert balance["object"] == "balance" and "id" not in balance
    assert [r["path"] for r in stripe_conn.requests] == ["/v1/balance"]
    with pytest.raises(StripeParameterError, match="balance is one object with no id"):
        hook.get_object("balance", "bal_1")
    with pytest.raises(
        StripeParameterError, match=r"balance is one object, not a list: get it with get_object"
    ):
        hook.iter_objects("balance")
    assert len(stripe_conn.requests) == 1


def test_a_parent_id_with_any_character_reaches_its_own_children(stripe_conn: FakeStripe):
    """Stripe lets an account choose a customer's id: ``/``, ``?``, ``#`` or ``%`` stay in one segment."""
    hook = StripeHook()
    for odd in ("cus/a", "cus?x=1", "cus#frag", "cus%2F", "cüs"):
        [customer] = stripe_conn.seed(1, id=odd)
        mine = stripe_conn.seed_objects("customers/{customer}/balance_transactions", 3, parent=odd)
        with hook.iter_objects("customer_balance_transactions", parent_id=odd) as records:
            assert [r["id"] for r in records] == [m["id"] for m in mine] and customer["id"] == odd
        got = hook.get_object("customer_balance_transactions", mine[0]["id"], parent_id=odd)
        assert got["customer"] == odd


def test_a_parent_that_does_not_exist_is_stripes_404_not_an_empty_export(stripe_conn: FakeStripe):
    with pytest.raises(Exception, match="No such customer: 'cus_typo'") as raised:
        list(StripeHook().iter_objects("customer_balance_transactions", parent_id="cus_typo"))
    assert getattr(raised.value, "http_status", None) == 404


def test_only_children_kept_in_their_parents_order_skip_the_newest_first_check():
    """The registry's ``newest_first`` agrees with the server's model of Stripe (``EMBEDDED_CHILDREN``)."""
    from tests.stripe_server import EMBEDDED_CHILDREN

    unordered = {row.path for row in RESOURCES.values() if not row.newest_first}
    assert unordered == set(EMBEDDED_CHILDREN)


def test_a_subscription_item_is_retrieved_by_its_id_alone(stripe_conn: FakeStripe):
    [subscription] = stripe_conn.seed_objects("subscriptions", 1, embedded={"items": 0})
    [item] = stripe_conn.seed_objects("subscription_items", 1, parent=subscription["id"])
    hook = StripeHook()
    assert hook.get_object("subscription_items", item["id"])["subscription"] == subscription["id"]
    with pytest.raises(StripeParameterError, match="subscription_items are retrieved by their id alone"):
        hook.get_object("subscription_items", item["id"], parent_id="sub_other")
