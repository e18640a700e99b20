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


def test_the_stripe_protocol_layer_imports_nothing_of_airflow():
    """``api/`` is the Stripe protocol alone; Airflow glue lives in hooks/, operators/, links/, utils/.

    Its only tie to Airflow is the provider's exceptions, which subclass Airflow's so that a task
    fails at once or retries as the error deserves.
    """
    import ast
    from pathlib import Path

    import airflow_provider_stripe.api as api

    imported = {}
    for module in sorted(Path(api.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            airflow = [n for n in names if n == "airflow" or n.startswith("airflow.")]
            if airflow:
                imported[module.name] = airflow
    assert imported == {}
