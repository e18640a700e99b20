"""The registry (``api.registry.RESOURCES``) checked row by row against Stripe's own generated code.

stripe-python (pinned in the test constraints; see ``tests/stripe_sdk.py``) names, for
every list, its path, its ``…ListParams`` and the resource class it returns. A row that
names a filter Stripe does not take, gives it the wrong kind or enum, leaves out one it
does take, or calls its object by another name, fails here, in either direction.

``tests/data/stripe-openapi-objects.json`` (``scripts/openapi_subset.py``, then
``scripts/sdk_subset.py``) is what the test server speaks: Stripe's example objects,
in today's shapes, with each list's parameters from the same stripe-python.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import stripe

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
from tests.stripe_sdk import PAGING, _fields, embedded_item_class, sdk_lists, sdk_singletons

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "data" / "stripe-openapi-objects.json").read_text()
)["resources"]
#: stripe-python's kind for each registry kind.
SDK_KIND = {ID: "string", STRING: "string", EMAIL: "string", BOOLEAN: "boolean", INTEGER: "integer"}
SDK_KIND |= {RANGE: "range", AMOUNT_RANGE: "range", ARRAY: "array"}


def test_the_sdk_is_the_pinned_one():
    """The rows are checked against one API version; a new stripe-python is a deliberate upgrade."""
    assert (stripe.VERSION, stripe.api_version) == ("16.1.0", "2026-10-28.endive")


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_row_matches_stripe_python(name: str):
    row = RESOURCES[name]
    assert row.name == name
    if row.singleton:  # one object at its path: no list, no filters
        assert row.object == sdk_singletons()[row.path].OBJECT_NAME and row.path not in sdk_lists()
        assert not (row.filters or row.unsupported_filters or row.created or row.searchable or row.parent)
        return
    sdk = sdk_lists()[row.path]
    assert sdk.objects == set(row.objects), f"{name}: {sdk.params_class} lists {set(sdk.objects)}"
    params = dict(sdk.params)
    assert row.created == (params.pop("created", None) == "range"), f"{name}: created"
    assert row.searchable == sdk.searchable, f"{name}: search"
    if row.parent is not None and not row.parent_in_path:  # a required filter names the parent
        assert params.pop(row.parent) == "string", f"{name}: parent {row.parent}"
    elif row.parent is not None:
        assert "{" + row.parent + "}" in row.path and row.path.count("{") == 1
    for filter_name, kind in row.filters.items():
        assert filter_name in params, f"{name}: {sdk.params_class} takes no {filter_name!r}"
        if isinstance(kind, tuple):
            assert isinstance(params[filter_name], dict), f"{name}.{filter_name} is not an enum"
            assert sorted(kind) == params[filter_name]["enum"], f"{name}.{filter_name}"
        else:
            assert SDK_KIND[kind] == params[filter_name], (
                f"{name}.{filter_name}: {kind} vs {params[filter_name]}"
            )
    for filter_name, reason in row.unsupported_filters.items():
        assert params.get(filter_name) == "object" and filter_name not in row.filters and reason
    left_out = set(params) - set(row.filters) - set(row.unsupported_filters)
    assert not left_out, f"{name}: the row leaves out {sorted(left_out)} of {sdk.params_class}"
    for filter_name, value in row.list_defaults.items():
        assert filter_name in row.filters and object_list_params(row)[filter_name] == value


LISTS = sorted(name for name, row in RESOURCES.items() if not row.singleton)


@pytest.mark.parametrize("name", LISTS)
def test_the_test_server_takes_exactly_stripe_pythons_parameters(name: str):
    """The server refuses what Stripe refuses: its extract's list parameters are the SDK's."""
    row = RESOURCES[name]
    extract = {param: kind for param, kind in SPEC[row.path]["list"].items() if param not in PAGING}
    assert extract == sdk_lists()[row.path].params
    assert SPEC[row.path]["object"] == row.object


def test_an_unsupported_nested_filter_fails_with_its_reason():
    with pytest.raises(StripeParameterError, match=r"'recurring' is not supported: a nested object filter"):
        object_list_params(RESOURCES["prices"], filters={"recurring": {"interval": "month"}})


def test_the_registry_and_the_extract_cover_the_same_resources():
    assert {row.path for row in RESOURCES.values()} == set(SPEC)
    required = {
        "customers", "invoices", "invoiceitems", "subscriptions", "subscription_schedules", "charges",
        "payment_intents", "refunds", "disputes", "products", "prices", "coupons", "promotion_codes",
        "balance_transactions", "payouts", "credit_notes", "checkout/sessions", "tax_rates", "accounts",
        "events",
    }  # fmt: skip
    assert required <= set(RESOURCES)


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_row_matches_the_servers_extract(name: str):
    """What the test server's objects look like agrees with the row: the time field, search, embedded lists."""
    row = RESOURCES[name]
    spec = SPEC[row.path]
    if row.created:  # what created filters on is a field of every object (invoice items: date)
        assert isinstance(spec["fixture"][row.created_field], int)
    assert row.searchable == (spec["search"] is not None)
    assert sorted(row.lists) == spec["lists"]
    assert row.singleton == (spec["list"] is None)


@pytest.mark.parametrize("path", LISTS)
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
    """Stripe's own default hides canceled subscriptions; the SDK says so, and the row overrides it."""
    assert "all" in sdk_lists()["subscriptions"].params["status"]["enum"]
    assert object_list_params(RESOURCES["subscriptions"])["status"] == "all"


@pytest.mark.parametrize("name", LISTS)
def test_the_test_server_answers_in_stripe_pythons_shapes(name: str):
    """No field Stripe has dropped since (an invoice's ``subscription``), none it always sends missing."""
    row = RESOURCES[name]
    sdk, fixture = sdk_lists()[row.path], SPEC[row.path]["fixture"]
    assert set(fixture) - sdk.fields == set(), f"{name}: fields stripe-python no longer has"
    assert sdk.always - set(fixture) == set(), f"{name}: fields stripe-python always has"
    for prop in SPEC[row.path]["lists"]:  # and the items of its embedded lists (an invoice's lines)
        for item in (fixture.get(prop) or {}).get("data") or []:
            fields, always = _fields(embedded_item_class(sdk.classes[0], prop, item.get("object")))
            assert set(item) - fields - {"id", "object"} == set(), f"{name}.{prop}: gone fields"
            assert always - set(item) == set(), f"{name}.{prop}: missing fields"


def test_the_docs_table_of_objects_is_the_registrys():
    """docs/objects.md lists every object as the registry describes it (``scripts/objects_table.py``)."""
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "scripts" / "objects_table.py"
    spec = importlib.util.spec_from_file_location("objects_table", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.DOC.read_text()
    assert text == module.with_table(text), "run: .venv/bin/python scripts/objects_table.py --write"
    assert all(f"| `{name}`" in text for name in RESOURCES)
    events = module.EVENTS_DOC.read_text()
    assert events == module.with_events_table(events), (
        "run: .venv/bin/python scripts/objects_table.py --write"
    )
    assert "| `subscription` | `customer.subscription.created`" in events
