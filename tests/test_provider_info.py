"""Registration: entry point, provider metadata, and Airflow's own discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_stripe.get_provider_info import get_provider_info


def test_entry_point_resolves_to_get_provider_info():
    (ep,) = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_stripe")
    ]
    assert ep.load() is get_provider_info
    assert ep.dist is not None and ep.dist.name == "airflow-provider-stripe"


def test_package_name_equals_the_distribution_name():
    # A mismatch makes Airflow's provider discovery fail for every provider.
    assert get_provider_info()["package-name"] == distribution("airflow-provider-stripe").metadata["Name"]


def test_provider_info_validates_against_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_connection_type_declares_the_form():
    (conn,) = get_provider_info()["connection-types"]
    assert conn["connection-type"] == "stripe" and conn["hook-name"] == "Stripe"
    assert conn["hook-class-name"] == "airflow_provider_stripe.hooks.stripe.StripeHook"
    behaviour = conn["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) >= {"login", "port", "schema"}
    assert behaviour["relabeling"] == {"password": "Secret key", "host": "API base URL"}
    assert (
        "sk_live_" in behaviour["placeholders"]["password"]
        and "rk_live_" in behaviour["placeholders"]["password"]
    )
    fields = conn["conn-fields"]
    assert set(fields) >= {
        "stripe_account",
        "stripe_version",
        "max_retries",
        "timeout",
        "max_requests_per_second",
    }
    for field in fields.values():
        assert field["label"] and "null" in field["schema"]["type"]


def test_airflow_discovers_the_provider_and_hook():
    from airflow.providers_manager import ProvidersManager

    from tests.airflow_compat import ProvidersManagerTaskRuntime

    assert "airflow-provider-stripe" in ProvidersManager().providers
    hook_info = ProvidersManagerTaskRuntime().hooks["stripe"]
    assert hook_info is not None and hook_info.hook_class_name.endswith("StripeHook")
    assert hook_info.connection_id_attribute_name == "stripe_conn_id"


def test_airflow_providers_list_shows_the_provider():
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    start = result.stdout.index("[")
    providers = {p["package_name"]: p for p in json.loads(result.stdout[start:])}
    assert "airflow-provider-stripe" in providers
    assert providers["apache-airflow-providers-smtp"]  # the others still load
