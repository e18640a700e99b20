"""The fake server stays faithful to Stripe's shapes (the OpenAPI subset) and rules."""

from __future__ import annotations

import jsonschema
import pytest
import requests

from tests.openapi import validate
from tests.stripe_server import DEFAULT_KEY, FakeStripe

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
