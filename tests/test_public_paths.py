"""The import paths users and the docs rely on keep working after the package's restructuring."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("module", "name", "home"),
    [
        ("airflow_provider_stripe.hooks.stripe", "StripeHook", "airflow_provider_stripe.hooks.stripe"),
        ("airflow_provider_stripe.hooks", "StripeHook", "airflow_provider_stripe.hooks.stripe"),
        (
            "airflow_provider_stripe.operators",
            "StripeListOperator",
            "airflow_provider_stripe.operators.objects",
        ),
        (
            "airflow_provider_stripe.operators",
            "StripeGetOperator",
            "airflow_provider_stripe.operators.objects",
        ),
        (
            "airflow_provider_stripe.operators",
            "StripeSearchOperator",
            "airflow_provider_stripe.operators.objects",
        ),
        (
            "airflow_provider_stripe.operators",
            "StripeListCustomersOperator",
            "airflow_provider_stripe.operators.customers",
        ),
        (
            "airflow_provider_stripe.operators",
            "StripeCustomerChangesOperator",
            "airflow_provider_stripe.operators.customers",
        ),
        ("airflow_provider_stripe.exceptions", "StripeAPIError", "airflow_provider_stripe.exceptions"),
        ("airflow_provider_stripe.windows", "export_window", "airflow_provider_stripe.windows"),
        ("airflow_provider_stripe.params", "split_created", "airflow_provider_stripe.api.params"),
        ("airflow_provider_stripe.resources", "RESOURCES", None),
        ("airflow_provider_stripe.links", "StripeCustomerLink", "airflow_provider_stripe.links.dashboard"),
        ("airflow_provider_stripe.links", "StripeDashboardLink", "airflow_provider_stripe.links.dashboard"),
    ],
)
def test_public_import_path(module: str, name: str, home: str | None):
    value = getattr(importlib.import_module(module), name)
    if home is not None:
        assert value.__module__ == home
    else:  # the registry is a mapping: it is the api.registry one itself
        from airflow_provider_stripe.api.registry import RESOURCES

        assert value is RESOURCES and "invoices" in value


def test_extra_links_named_in_provider_info_import():
    from airflow_provider_stripe.get_provider_info import get_provider_info

    for path in get_provider_info()["extra-links"]:
        module, _, name = path.rpartition(".")
        assert getattr(importlib.import_module(module), name).__name__ == name
