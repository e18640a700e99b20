"""The registry (``resources.RESOURCES``) checked against Stripe's OpenAPI spec, row by row.

``tests/data/stripe-openapi-objects.json`` is an extract of Stripe's spec and
fixtures (``scripts/openapi_subset.py``): each list path's object, query
parameters with their kinds, search endpoint and embedded lists. A row that
names a filter Stripe does not take, gives it the wrong kind, or leaves out one
it does take, fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_stripe.api.params import object_list_params
from airflow_provider_stripe.api.registry import (
    AMOUNT_RANGE,
    ARRAY,
    BOOLEAN,
    EMAIL,
    ID,
    INTEGER,
    RANGE,
    RESOURCES,
    STRING,
)
from airflow_provider_stripe.exceptions import StripeParameterError

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "data" / "stripe-openapi-objects.json").read_text()
)["resources"]
#: Parameters every list takes, which the registry does not repeat per row.
COMMON = {"limit", "starting_after", "ending_before", "expand", "created"}
#: The spec's kind for each registry kind.
SPEC_KIND = {ID: "string", STRING: "string", EMAIL: "string", BOOLEAN: "boolean", INTEGER: "integer"}
SPEC_KIND |= {RANGE: "range", AMOUNT_RANGE: "range", ARRAY: "array"}


def test_the_registry_and_the_extract_cover_the_same_resources():
    assert set(RESOURCES) == set(SPEC)
    required = {
        "customers", "invoices", "invoiceitems", "subscriptions", "subscription_schedules", "charges",
        "payment_intents", "refunds", "disputes", "products", "prices", "coupons", "promotion_codes",
        "balance_transactions", "payouts", "credit_notes", "checkout/sessions", "tax_rates", "accounts",
        "events",
    }  # fmt: skip
    assert required <= set(RESOURCES)


@pytest.mark.parametrize("path", sorted(RESOURCES))
def test_row_matches_stripes_spec(path: str):
    row, spec = RESOURCES[path], SPEC[path]
    assert row.path == path
    assert row.object == spec["object"]
    assert row.created == ("created" in spec["list"])
    if row.created:  # what created filters on is a field of every object (invoice items: date)
        assert isinstance(spec["fixture"][row.created_field], int)
    assert row.searchable == (spec["search"] is not None)
    assert sorted(row.lists) == spec["lists"]
    filters = {name: kind for name, kind in spec["list"].items() if name not in COMMON}
    for name, kind in row.filters.items():
        assert name in filters, f"{path}: Stripe's list takes no {name!r}"
        if isinstance(kind, tuple):
            assert isinstance(filters[name], dict), f"{path}.{name} is not an enum in the spec"
            assert set(kind) <= set(filters[name]["enum"]), (
                f"{path}.{name}: {set(kind) - set(filters[name]['enum'])}"
            )
        else:
            assert SPEC_KIND[kind] == filters[name], f"{path}.{name}: {kind} vs {filters[name]}"
    # Every filter Stripe takes is in the row, except object-valued ones (nested hashes).
    left_out = {name for name, kind in filters.items() if name not in row.filters and kind != "object"}
    assert not left_out, f"{path}: the row leaves out {left_out}"
    for name, value in row.list_defaults.items():
        assert name in row.filters and object_list_params(row)[name] == value


@pytest.mark.parametrize("path", sorted(RESOURCES))
def test_every_row_rejects_an_unknown_filter_and_created_where_stripe_does(path: str):
    row = RESOURCES[path]
    with pytest.raises(StripeParameterError, match=f"the {path} list takes no filter 'colour'"):
        object_list_params(row, filters={"colour": "red"})
    if row.created:
        assert object_list_params(row, created={"gte": 5})["created"] == {"gte": 5}
    else:
        with pytest.raises(StripeParameterError, match="cannot be filtered by created"):
            object_list_params(row, created={"gte": 5})


def test_subscriptions_list_every_status_unless_told_otherwise():
    """Stripe's own default hides canceled subscriptions; the spec says so, and the row overrides it."""
    assert "all" in SPEC["subscriptions"]["list"]["status"]["enum"]
    assert object_list_params(RESOURCES["subscriptions"])["status"] == "all"
