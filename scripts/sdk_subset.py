"""Bring tests/data/stripe-openapi-objects.json to the API version stripe-python pins.

``scripts/openapi_subset.py`` extracts Stripe's example objects from its OpenAPI spec
of 2023. This script then brings them to the version stripe-python (the test
constraints' pin) is generated for, so that the test server answers in today's
shapes:

- every list's parameters become what stripe-python generates for the same path, so
  the server refuses and accepts exactly what Stripe does;
- each example object gets the moves Stripe made since (``basil`` and later: an
  invoice's ``subscription`` under ``parent.subscription_details``, an invoice item's
  ``price`` under ``pricing``, a subscription's current period on its items, a
  promotion code's ``coupon`` under ``promotion`` …), the fields its resource class
  always has, and ``customer_account`` where the class has it; fields the class no
  longer has are dropped.

The version goes into the extract's ``source``. Run it once on the output of
``openapi_subset.py``::

    .venv/bin/python scripts/sdk_subset.py tests/data/stripe-openapi-objects.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stripe

from airflow_provider_stripe.api.registry import RESOURCES
from tests.stripe_sdk import (
    _fields,
    embedded_item_class,
    example_object,
    example_value,
    sdk_lists,
    sdk_singletons,
)

#: Id prefixes of the objects the 2023 spec lacks (their examples come from stripe-python).
ID_PREFIXES = {
    "bank_account": "ba_",
    "billing.credit_grant": "credgr_",
    "billing.meter": "mtr_",
    "customer_balance_transaction": "cbtxn_",
    "file": "file_",
    "invoice_payment": "inpay_",
    "issuing.authorization": "iauth_",
    "issuing.card": "ic_",
    "issuing.cardholder": "ich_",
    "issuing.dispute": "idp_",
    "issuing.transaction": "ipi_",
    "payment_method": "pm_",
    "person": "person_",
    "radar.early_fraud_warning": "issfr_",
    "subscription_item": "si_",
    "tax_id": "txi_",
}

#: The paging parameters every list takes, as the extract spells their kinds.
PAGING_KINDS = {"ending_before": "string", "expand": "array", "limit": "integer", "starting_after": "string"}


def _moved(path: str, fixture: dict[str, Any]) -> None:
    """Stripe's own moves since 2023, applied to one example object (before unknown fields go)."""
    if path == "invoices":
        subscription = fixture.get("subscription")
        details = {"metadata": (fixture.get("subscription_details") or {}).get("metadata") or {}}
        fixture["parent"] = (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {**details, "subscription": subscription},
            }
            if subscription
            else None
        )
        fixture.update(amount_overpaid=0, issuer={"type": "self"}, total_taxes=[])
    elif path == "invoiceitems":
        price = fixture.get("price") or {}
        fixture["pricing"] = {
            "type": "price_details",
            "price_details": {"price": price.get("id"), "product": price.get("product")},
            "unit_amount_decimal": fixture.get("unit_amount_decimal"),
        }
        subscription = fixture.get("subscription")
        fixture["parent"] = (
            {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": subscription,
                    "subscription_item": fixture.get("subscription_item"),
                },
            }
            if subscription
            else None
        )
        fixture["quantity_decimal"] = str(fixture.get("quantity", 1))
    elif path == "subscriptions":
        for item in fixture["items"]["data"]:
            item.setdefault("current_period_start", fixture["current_period_start"])
            item.setdefault("current_period_end", fixture["current_period_end"])
        fixture.update(
            billing_mode={"type": "classic"},
            billing_schedules=[],
            discounts=[],
            invoice_settings={"account_tax_ids": None, "issuer": {"type": "self"}},
        )
    elif path == "subscription_schedules":
        fixture.update(billing_mode={"type": "classic"}, pause_schedules=[])
    elif path == "promotion_codes":
        coupon = fixture.get("coupon")
        fixture["promotion"] = {
            "type": "coupon",
            "coupon": coupon.get("id") if isinstance(coupon, dict) else coupon,
        }
    elif path == "products":
        fixture["marketing_features"] = [{"name": f.get("name")} for f in fixture.get("features") or []]
        fixture["type"] = "service"
    elif path == "credit_notes":
        refund = fixture.get("refund")
        fixture["refunds"] = (
            [{"amount_refunded": fixture.get("amount", 0), "refund": refund}] if refund else []
        )
        fixture.update(post_payment_amount=fixture.get("amount", 0), pre_payment_amount=0)
        fixture.update(pretax_credit_amounts=[], total_taxes=[])
    elif path == "balance_transactions":
        fixture["balance_type"] = "payments"
    elif path == "disputes":
        fixture["enhanced_eligibility_types"] = []


def _entry(
    object_name: str, fixture: dict[str, Any], params: dict[str, Any] | None, retrieve: str
) -> dict[str, Any]:
    """An extract entry as ``openapi_subset.py`` writes them (its list parameters are filled below)."""
    return {
        "expandable": [],
        "fixture": fixture,
        "list": params,
        "lists": [],
        "object": object_name,
        "retrieve": retrieve,
        "search": None,
    }


def _moved_item(path: str, prop: str, item: dict[str, Any]) -> None:
    """Stripe's moves in an embedded list's items (an invoice line's price under ``pricing``)."""
    if (path, prop) == ("invoices", "lines") and "price" in item:
        price = item.get("price") or {}
        item["pricing"] = {
            "type": "price_details",
            "price_details": {"price": price.get("id"), "product": price.get("product")},
            "unit_amount_decimal": price.get("unit_amount_decimal"),
        }
        item["parent"] = {
            "type": "subscription_item_details" if item.get("subscription") else "invoice_item_details",
            "invoice_item_details": None,
            "subscription_item_details": None,
        }


def _plan_of(item: dict[str, Any]) -> None:
    """A subscription item's ``plan``, which Stripe still sends: its price as a plan."""
    price = item.get("price")
    if "plan" not in item and isinstance(price, dict):
        item["plan"] = {
            "id": price.get("id"),
            "object": "plan",
            "active": price.get("active"),
            "amount": price.get("unit_amount"),
            "currency": price.get("currency"),
            "interval": (price.get("recurring") or {}).get("interval"),
            "product": price.get("product"),
        }


def _reshape_items(path: str, spec: dict[str, Any], resource: type) -> None:
    """Every embedded list's items in their class's shape: moved, unknown fields dropped, the
    fields the class always has added."""
    for prop in spec["lists"]:
        listed = spec["fixture"].get(prop)
        if not isinstance(listed, dict) or not listed.get("data"):
            continue
        for item in listed["data"]:
            item_class = embedded_item_class(resource, prop, item.get("object"))
            fields, always = _fields(item_class)
            _moved_item(path, prop, item)
            if (path, prop) == ("subscriptions", "items"):
                _plan_of(item)
            for name in sorted(always - set(item)):
                item[name] = example_value(item_class, name)
            for name in set(item) - fields - {"id", "object"}:
                del item[name]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("extract", type=Path)
    args = parser.parse_args()
    data = json.loads(args.extract.read_text())
    lists = sdk_lists()
    reshaped = "; list parameters:" in data["source"]  # the moves are made once, on the 2023 objects
    for row in RESOURCES.values():  # objects the 2023 spec lacks: an example in the SDK class's shape
        if row.path in data["resources"]:
            continue
        if row.singleton:
            resource = sdk_singletons()[row.path]
            fixture = example_object(resource, None)
            data["resources"][row.path] = _entry(row.object, fixture, None, f"/v1/{row.path}")
            continue
        resource = lists[row.path].classes[0]
        fixture = example_object(resource, f"{ID_PREFIXES[row.object]}0000000000000000")
        data["resources"][row.path] = _entry(row.object, fixture, {}, f"/v1/{row.path}/{{id}}")
    for path, spec in data["resources"].items():
        if spec["list"] is None:  # a singleton: no list, its example already in today's shape
            continue
        sdk = lists[path]
        spec["list"] = dict(sorted({**PAGING_KINDS, **sdk.params}.items()))
        fixture = spec["fixture"]
        if not reshaped:
            _moved(path, fixture)
        if "customer_account" in sdk.fields:
            fixture.setdefault("customer_account", None)
        spec["fixture"] = {
            name: value for name, value in fixture.items() if name in sdk.fields | {"id", "object"}
        }
        _reshape_items(path, spec, sdk.classes[0])
        spec["expandable"] = sorted(
            {name for name in spec["expandable"] if name in sdk.fields} | ({"parent"} & set(spec["fixture"]))
        )
    source = data["source"].split("; list parameters:")[0]
    data["source"] = f"{source}; list parameters: stripe-python {stripe.VERSION} (API {stripe.api_version})"
    args.extract.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
