"""The fake server stays faithful to Stripe's shapes (the OpenAPI subset) and rules."""

from __future__ import annotations

import jsonschema
import pytest
import requests

from tests.openapi import validate
from tests.stripe_server import DEFAULT_KEY, FakeStripe, resources

AUTH = {"Authorization": f"Bearer {DEFAULT_KEY}"}


def get(server: FakeStripe, path: str, **params):
    return requests.get(f"{server.url}{path}", params=params, headers=AUTH, timeout=5)


def test_list_get_deleted_and_error_bodies_match_the_openapi_schema(stripe_server: FakeStripe):
    customers = stripe_server.seed(30)
    page = get(stripe_server, "/v1/customers", limit=25).json()
    validate(page, "customer_list")
    for customer in page["data"]:
        validate(customer, "customer")
    validate(get(stripe_server, f"/v1/customers/{customers[0]['id']}").json(), "customer")
    stripe_server.store().delete(customers[1]["id"])
    deleted = get(stripe_server, f"/v1/customers/{customers[1]['id']}")
    assert deleted.status_code == 200
    validate(deleted.json(), "deleted_customer")
    for response in (
        get(stripe_server, "/v1/customers/cus_nope"),
        get(stripe_server, "/v1/customers", limit=0),
    ):
        assert response.status_code in (400, 404) and response.headers["Request-Id"].startswith("req_")
        validate(response.json(), "error")


def test_schema_check_can_fail():
    with pytest.raises(jsonschema.ValidationError):
        validate({"id": "cus_1", "object": "customer", "livemode": "no", "created": 1}, "customer")
    with pytest.raises(jsonschema.ValidationError):
        validate({"object": "list", "data": [], "has_more": False, "url": "/v1/charges"}, "customer_list")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"starting_after": "a", "ending_before": "b"}, "ending_before"),
        ({"starting_after": "cus_unknown"}, "starting_after"),
        ({"ending_before": "cus_unknown"}, "ending_before"),
        ({"created[between]": "1"}, "created[between]"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_list_validation_like_stripe(stripe_server: FakeStripe, params, param):
    stripe_server.seed(2)
    response = get(stripe_server, "/v1/customers", **params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_missing_auth_is_401(stripe_server: FakeStripe):
    response = requests.get(f"{stripe_server.url}/v1/customers", timeout=5)
    assert response.status_code == 401 and response.json()["error"]["type"] == "invalid_request_error"


def test_pages_cover_everything_in_both_directions(stripe_server: FakeStripe):
    customers = stripe_server.seed(23, created=[1000] * 10 + list(range(2000, 2013)))  # ties in one second
    ids = [c["id"] for c in customers]
    forward, cursor = [], None
    while True:
        page = get(
            stripe_server, "/v1/customers", limit=5, **({"starting_after": cursor} if cursor else {})
        ).json()
        forward += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["data"][-1]["id"]
    assert forward == ids
    backward, cursor = [], ids[-1]
    while True:
        page = get(stripe_server, "/v1/customers", limit=4, ending_before=cursor).json()
        backward = [c["id"] for c in page["data"]] + backward
        if not page["has_more"]:
            break
        cursor = page["data"][0]["id"]
    assert backward == ids[:-1]


def test_created_filters_and_rate_limit(stripe_server: FakeStripe):
    stripe_server.seed(10, start=100, spacing=10)  # 100..190
    got = get(stripe_server, "/v1/customers", **{"created[gte]": 120, "created[lt]": 150}).json()
    assert sorted(c["created"] for c in got["data"]) == [120, 130, 140]
    got = get(stripe_server, "/v1/customers", created=150).json()
    assert [c["created"] for c in got["data"]] == [150]
    stripe_server.rate_limit = 3
    codes = [get(stripe_server, "/v1/customers").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]


# -- every other object type, served generically from the OpenAPI extract --------------------------
def pages(server: FakeStripe, path: str, limit: int, **params) -> list[list[str]]:
    """The ids of every page of a list, following ``starting_after``."""
    found: list[list[str]] = []
    cursor = None
    while True:
        extra = {"starting_after": cursor} if cursor else {}
        page = get(server, path, limit=limit, **params, **extra).json()
        found.append([obj["id"] for obj in page["data"]])
        if not page["has_more"]:
            return found
        cursor = page["data"][-1]["id"]


def all_ids(server: FakeStripe, path: str, limit: int, **params) -> list[str]:
    return [i for page in pages(server, path, limit, **params) for i in page]


def error(response: requests.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_seeded_objects_list_newest_first_with_both_cursors_and_created(stripe_server: FakeStripe):
    charges = stripe_server.seed_objects("charges", 23, created=[1000] * 8 + list(range(2000, 2015)))
    ids = [c["id"] for c in charges]
    assert len(set(ids)) == 23 and all(i.startswith("ch_") for i in ids)
    assert all(c["object"] == "charge" and c["livemode"] is False for c in charges)
    assert all_ids(stripe_server, "/v1/charges", 5) == ids
    assert [len(p) for p in pages(stripe_server, "/v1/charges", 5)] == [5, 5, 5, 5, 3]
    page = get(stripe_server, "/v1/charges", limit=3, ending_before=ids[10]).json()
    assert [c["id"] for c in page["data"]] == ids[7:10] and page["has_more"]
    assert page["url"] == "/v1/charges"
    window = get(
        stripe_server, "/v1/charges", limit=100, **{"created[gte]": 2003, "created[lt]": 2006}
    ).json()
    assert [c["created"] for c in window["data"]] == [2005, 2004, 2003]
    assert len(get(stripe_server, "/v1/charges", limit=100, created=1000).json()["data"]) == 8
    assert get(stripe_server, f"/v1/charges/{ids[3]}").json() == charges[3]
    missing = error(get(stripe_server, "/v1/charges/ch_nope"), 404)
    assert missing["message"] == "No such charge: 'ch_nope'"
    assert (missing["code"], missing["param"]) == ("resource_missing", "id")
    assert error(get(stripe_server, "/v1/charges", starting_after="ch_nope"))["param"] == "starting_after"
    assert error(get(stripe_server, "/v1/charges", limit=101))["param"] == "limit"
    assert stripe_server.objects_now("charges") == {c["id"]: c for c in charges}


def test_every_object_type_of_the_extract_is_served(stripe_server: FakeStripe):
    children_last = sorted(
        resources().items(), key=lambda item: "{" in item[0] or item[0] == "subscription_items"
    )
    for path, resource in children_last:  # a child's parent would be one more object of its kind
        if path in ("customers", "events"):
            continue
        if resource.singleton:  # the balance: one object, no id
            assert get(stripe_server, f"/v1/{path}").json()["object"] == resource.object
            continue
        if "{" in path or path == "subscription_items":  # a child collection: listed per parent
            parent_path = {"customer": "customers", "account": "accounts"}.get(
                path.split("/")[0][:-1], "subscriptions"
            )
            [parent] = (
                stripe_server.seed(1)
                if parent_path == "customers"
                else stripe_server.seed_objects(
                    parent_path,
                    1,
                    embedded={"external_accounts": 0} if parent_path == "accounts" else {"items": 0},
                )
            )
            [obj] = stripe_server.seed_objects(path, 1, parent=parent["id"])
            concrete = (
                path.replace(path[path.find("{") : path.find("}") + 1], parent["id"]) if "{" in path else path
            )
            query = {} if "{" in path else {"subscription": parent["id"]}
            page = get(stripe_server, f"/v1/{concrete}", **query).json()
            assert [o["id"] for o in page["data"]] == [obj["id"]], (path, page)
            assert get(stripe_server, f"/v1/{concrete}/{obj['id']}").json()["id"] == obj["id"]
            continue
        [obj] = stripe_server.seed_objects(path, 1)
        assert obj["id"].startswith(resource.prefix) and obj["object"] == resource.object
        page = get(stripe_server, f"/v1/{path}").json()
        assert [o["id"] for o in page["data"]] == [obj["id"]] and page["url"] == f"/v1/{path}"
        assert get(stripe_server, f"/v1/{path}/{obj['id']}").json()["id"] == obj["id"]


def test_filters_are_the_specs_and_match_their_fields(stripe_server: FakeStripe):
    stripe_server.seed_objects("invoices", 4, customer="cus_a", status="paid", due_date=lambda i: 100 + i)
    stripe_server.seed_objects("invoices", 3, customer="cus_b", status="open", due_date=None)

    def count(path: str, **params) -> int:
        return len(get(stripe_server, path, limit=100, **params).json()["data"])

    assert count("/v1/invoices", customer="cus_a") == 4
    assert count("/v1/invoices", status="open") == 3
    assert count("/v1/invoices", customer="cus_b", status="paid") == 0
    assert count("/v1/invoices", **{"due_date[gte]": 101, "due_date[lt]": 103}) == 2
    assert count("/v1/invoices", due_date=100) == 1
    prices = stripe_server.seed_objects("prices", 3, lookup_key=lambda i: f"key{i}", active=lambda i: i != 1)
    assert count("/v1/prices", **{"lookup_keys[]": ["key0", "key1"]}) == 2
    assert count("/v1/prices", active="false") == 1
    assert count("/v1/prices", **{"recurring[interval]": "month"}) == 3  # the fixture's recurring price
    assert count("/v1/prices", **{"recurring[interval]": "year"}) == 0
    assert (
        error(get(stripe_server, "/v1/prices", **{"ids[]": prices[0]["id"]}))["param"] == "ids[]"
    )  # products'
    products = stripe_server.seed_objects("products", 3)
    assert count("/v1/products", **{"ids[0]": products[0]["id"], "ids[1]": products[2]["id"]}) == 2


@pytest.mark.parametrize(
    ("path", "params", "param", "message"),
    [
        ("/v1/invoices", {"colour": "red"}, "colour", "Received unknown parameter: colour"),
        ("/v1/invoices", {"email": "a@b.c"}, "email", "Received unknown parameter: email"),
        ("/v1/quotes", {"created": 1}, "created", "Received unknown parameter: created"),
        ("/v1/payment_links", {"created[gte]": 1}, "created[gte]", "Received unknown parameter"),
        ("/v1/invoices", {"due_date[between]": 1}, "due_date[between]", "Received unknown parameter"),
        ("/v1/invoices", {"status": "lost"}, "status", "Invalid status"),
        ("/v1/prices", {"active": "yes"}, "active", "Invalid boolean"),
        ("/v1/prices", {"recurring": "month"}, "recurring", "Invalid object"),
        ("/v1/invoices", {"expand[]": "data.colour"}, "expand", "This property cannot be expanded"),
        ("/v1/invoices", {"expand[]": "lines"}, "expand", "This property cannot be expanded"),
    ],
)
def test_list_filters_outside_the_spec_are_400(stripe_server: FakeStripe, path, params, param, message):
    body = error(get(stripe_server, path, **params))
    assert body["param"] == param and body["message"].startswith(message)
    assert body["type"] == "invalid_request_error"


def test_subscriptions_hide_canceled_ones_unless_status_asks(stripe_server: FakeStripe):
    statuses = ["active", "canceled", "incomplete_expired", "past_due", "canceled", "trialing"]
    subscriptions = stripe_server.seed_objects("subscriptions", 6, status=lambda i: statuses[i])

    def listed(**params) -> list[str]:
        return [s["status"] for s in get(stripe_server, "/v1/subscriptions", **params).json()["data"]]

    assert [s["status"] for s in subscriptions] == statuses[::-1]
    assert listed() == ["trialing", "past_due", "incomplete_expired", "active"]
    assert listed(status="all") == statuses[::-1]
    assert listed(status="canceled") == ["canceled", "canceled"]
    assert listed(status="ended") == ["canceled", "incomplete_expired", "canceled"]
    assert listed(status="active") == ["active"]
    canceled = subscriptions[1]
    assert get(stripe_server, f"/v1/subscriptions/{canceled['id']}").json()["status"] == "canceled"


def test_an_invoice_embeds_10_of_250_lines_and_pages_the_rest_at_its_url(stripe_server: FakeStripe):
    [invoice] = stripe_server.seed_objects("invoices", 1, embedded={"lines": 250})
    assert len(invoice["lines"]["data"]) == 250  # the stored object holds the full list
    shown = get(stripe_server, f"/v1/invoices/{invoice['id']}").json()
    lines = shown["lines"]
    assert len(lines["data"]) == 10 and lines["has_more"] is True
    assert lines["url"] == f"/v1/invoices/{invoice['id']}/lines"
    listed = get(stripe_server, "/v1/invoices").json()["data"][0]["lines"]
    assert listed == lines
    paged = pages(stripe_server, lines["url"], 100)
    assert [len(p) for p in paged] == [100, 100, 50]
    ids = [i for page in paged for i in page]
    assert ids == [line["id"] for line in invoice["lines"]["data"]] and len(set(ids)) == 250
    assert ids[:10] == [line["id"] for line in lines["data"]]
    assert all(i.startswith("il_") for i in ids)
    back = get(stripe_server, lines["url"], limit=5, ending_before=ids[100]).json()
    assert [line["id"] for line in back["data"]] == ids[95:100] and back["has_more"]
    assert get(stripe_server, lines["url"]).json()["url"] == lines["url"]
    assert error(get(stripe_server, lines["url"], starting_after="il_nope"))["param"] == "starting_after"
    assert error(get(stripe_server, "/v1/invoices/in_nope/lines"), 404)["code"] == "resource_missing"
    assert error(get(stripe_server, f"/v1/invoices/{invoice['id']}/refunds"), 404)["message"].startswith(
        "Unrecognized request URL"
    )
    [plain] = stripe_server.seed_objects("invoices", 1)  # the fixture's own line, with a new id
    assert len(plain["lines"]["data"]) == 1 and plain["lines"]["data"][0]["id"] not in ids
    stored = stripe_server.objects_now("invoices")[invoice["id"]]
    assert stored == invoice and stored is not invoice


def test_subscription_items_page_at_subscription_items(stripe_server: FakeStripe):
    subscriptions = stripe_server.seed_objects("subscriptions", 2, embedded={"items": 25})
    subscription = subscriptions[0]
    shown = get(stripe_server, f"/v1/subscriptions/{subscription['id']}").json()["items"]
    assert shown["url"] == f"/v1/subscription_items?subscription={subscription['id']}"
    assert len(shown["data"]) == 10 and shown["has_more"] is True
    ids = all_ids(stripe_server, "/v1/subscription_items", 10, subscription=subscription["id"])
    assert ids == [item["id"] for item in subscription["items"]["data"]] and len(set(ids)) == 25
    page = get(stripe_server, "/v1/subscription_items", subscription=subscription["id"]).json()
    assert page["url"] == "/v1/subscription_items"
    assert {item["subscription"] for item in page["data"]} == {subscription["id"]}
    assert all(item["object"] == "subscription_item" for item in page["data"])
    other = get(stripe_server, "/v1/subscription_items", subscription=subscriptions[1]["id"]).json()
    assert not {item["id"] for item in other["data"]} & set(ids)
    missing = error(get(stripe_server, "/v1/subscription_items"))
    assert (missing["param"], missing["code"]) == ("subscription", "parameter_missing")
    assert (
        error(get(stripe_server, "/v1/subscription_items", subscription="sub_nope"), 404)["param"]
        == "subscription"
    )
    assert error(get(stripe_server, f"/v1/subscriptions/{subscription['id']}/items"), 404)  # not Stripe's URL
    price = subscription["items"]["data"][0]["price"]["id"]
    assert len(get(stripe_server, "/v1/subscriptions", price=price).json()["data"]) == 2
    assert get(stripe_server, "/v1/subscriptions", price="price_other").json()["data"] == []


def test_checkout_session_line_items_only_when_expanded(stripe_server: FakeStripe):
    sessions = stripe_server.seed_objects("checkout/sessions", 3, embedded={"line_items": 12})
    session = sessions[0]
    assert session["id"].startswith("cs_test_")
    url = f"/v1/checkout/sessions/{session['id']}"
    assert "line_items" not in get(stripe_server, url).json()
    expanded = get(stripe_server, url, **{"expand[]": "line_items"}).json()["line_items"]
    assert len(expanded["data"]) == 10 and expanded["has_more"] is True
    assert expanded["url"] == f"{url}/line_items"
    assert all("line_items" not in s for s in get(stripe_server, "/v1/checkout/sessions").json()["data"])
    listed = get(stripe_server, "/v1/checkout/sessions", **{"expand[]": "data.line_items"}).json()["data"]
    assert [len(s["line_items"]["data"]) for s in listed] == [10, 10, 10]
    assert len(all_ids(stripe_server, f"{url}/line_items", 5)) == 12
    [bare] = stripe_server.seed_objects("checkout/sessions", 1)  # none unless asked for
    assert get(stripe_server, f"/v1/checkout/sessions/{bare['id']}/line_items").json()["data"] == []


def test_search_pages_with_next_page_and_rejects_bad_tokens_and_syntax(stripe_server: FakeStripe):
    stripe_server.seed_objects(
        "charges", 25, amount=lambda i: 100 * i, metadata=lambda i: {"order": str(i % 2)}, currency="usd"
    )
    query = "metadata['order']:'1' AND amount>=500"  # 5, 7 … 23: ten charges
    found: list[int] = []
    token = None
    while True:
        page = get(
            stripe_server, "/v1/charges/search", query=query, limit=4, **({"page": token} if token else {})
        )
        body = page.json()
        assert page.status_code == 200 and body["object"] == "search_result"
        assert body["url"] == "/v1/charges/search"
        found += [c["amount"] for c in body["data"]]
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        token = body["next_page"]
    assert found == [100 * i for i in range(23, 4, -2)]
    first = get(stripe_server, "/v1/charges/search", query=query, limit=4).json()
    other = error(get(stripe_server, "/v1/charges/search", query="amount>=500", page=first["next_page"]))
    assert other["param"] == "page"
    assert error(get(stripe_server, "/v1/charges/search", query=query, page="not-a-token"))["param"] == "page"
    assert error(get(stripe_server, "/v1/charges/search"))["param"] == "query"
    assert error(get(stripe_server, "/v1/charges/search", query=query, colour="red"))["param"] == "colour"
    assert error(get(stripe_server, "/v1/charges/search", query=query, limit=0))["param"] == "limit"
    no_search = error(get(stripe_server, "/v1/checkout/sessions/search"), 404)  # Stripe has none there
    assert no_search["message"] == "No such checkout.session: 'search'"


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("amount", "expected an operator"),
        ("amount=5", "expected an operator"),
        ("currency:usd", "expected a quoted value"),
        ("currency:'usd", "unterminated string"),
        ("currency:'usd' AND", "ends with AND"),
        ("currency:'usd' AND amount>1 OR amount<5", "AND and OR"),
        ("description~'ab'", "at least 3 characters"),
        ("amount>'many'", "needs a number"),
        ("metadata[order]:'1'", "metadata key must be quoted"),
        ("currency:'usd'x", "unexpected 'x'"),
        (":'usd'", "expected a field name"),
    ],
)
def test_search_syntax_errors_are_400_naming_the_problem(stripe_server: FakeStripe, query, problem):
    body = error(get(stripe_server, "/v1/charges/search", query=query))
    assert body["type"] == "invalid_request_error" and body["param"] == "query"
    assert problem in body["message"]


def test_search_clauses(stripe_server: FakeStripe):
    stripe_server.seed_objects(
        "invoices",
        6,
        customer_email=lambda i: f"user{i}@Example.com",
        total=lambda i: 1000 * i,
        paid=lambda i: i % 2 == 0,
        metadata=lambda i: {"tier": "gold"} if i < 2 else {},
    )

    def totals(query: str) -> list[int]:
        response = get(stripe_server, "/v1/invoices/search", query=query)
        assert response.status_code == 200, response.text
        return [i["total"] for i in response.json()["data"]]

    assert totals("customer_email:'user3@example.com'") == [3000]  # exact, case-insensitive, as Stripe
    assert totals('customer_email~"example"') == [5000, 4000, 3000, 2000, 1000, 0]
    assert totals("-metadata['tier']:'gold'") == [5000, 4000, 3000, 2000]
    assert totals("metadata['tier']:'gold' total>0") == [1000]  # a space is AND
    assert totals("total<1000 or total>=4000") == [5000, 4000, 0]
    assert totals("total:2000 AND paid:'true'") == [2000]
    assert totals("paid:'false'") == [5000, 3000, 1000]
    assert totals("no_such_field:'x'") == []
    assert totals("currency:'usd'") == [5000, 4000, 3000, 2000, 1000, 0]
    customers = stripe_server.seed(5)
    found = get(stripe_server, "/v1/customers/search", query=f"email:'{customers[2]['email']}'").json()
    assert [c["id"] for c in found["data"]] == [customers[2]["id"]] and found["url"] == "/v1/customers/search"
    assert len(get(stripe_server, "/v1/customers/search", query="created>0").json()["data"]) == 5


def test_connected_accounts_are_listed_on_the_platform_and_usable(stripe_server: FakeStripe):
    first = stripe_server.connect_account(created=1000)
    second = stripe_server.connect_account("acct_second", created=2000, email="shop@example.com")
    assert first["id"].startswith("acct_") and first["object"] == "account"
    listed = get(stripe_server, "/v1/accounts").json()
    assert [a["id"] for a in listed["data"]] == ["acct_second", first["id"]]
    assert listed["url"] == "/v1/accounts"
    assert get(stripe_server, "/v1/accounts/acct_second").json() == second
    assert second["external_accounts"]["url"] == "/v1/accounts/acct_second/external_accounts"
    stripe_server.seed_objects("invoices", 2, account="acct_second")
    connected = requests.get(
        f"{stripe_server.url}/v1/invoices", headers={**AUTH, "Stripe-Account": "acct_second"}, timeout=5
    )
    assert connected.status_code == 200 and len(connected.json()["data"]) == 2
    assert get(stripe_server, "/v1/invoices").json()["data"] == []  # the platform's own are apart
    with pytest.raises(ValueError, match="already connected"):
        stripe_server.connect_account("acct_second")


def test_seed_objects_delegates_customers_and_refuses_events(stripe_server: FakeStripe):
    customers = stripe_server.seed_objects("customers", 3, start=100)
    assert [c["created"] for c in customers] == [220, 160, 100]
    assert set(stripe_server.objects_now("customers")) == {c["id"] for c in customers}
    with pytest.raises(ValueError, match="events"):
        stripe_server.seed_objects("events", 1)
    with pytest.raises(ValueError, match="no embedded list"):
        stripe_server.seed_objects("invoices", 1, embedded={"items": 3})
    with pytest.raises(ValueError, match="Not a Stripe list path"):
        stripe_server.seed_objects("widgets", 1)
    [item] = stripe_server.seed_objects("invoiceitems", 1, start=5000)  # their time is "date"
    assert item["date"] == 5000 and "created" not in item
    assert get(stripe_server, "/v1/invoiceitems", created=5000).json()["data"][0]["id"] == item["id"]


@pytest.mark.parametrize("path", ["customers", "invoices", "events"])
def test_lists_refuse_total_count_as_stripe_does_since_basil(stripe_server, path: str):
    """2025-03-31.basil: ``expand[]=total_count`` on a list answers 400 ``property_forbidden``."""
    answer = requests.get(
        f"{stripe_server.url}/v1/{path}",
        params={"expand[]": "total_count"},
        headers=AUTH,
        timeout=10,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "property_forbidden"
