"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_stripe import __version__

#: The settings' bounds, as ``api.params`` checks them (a test holds the two equal; imported here
#: they would load the API layer, and Airflow imports this module for every provider list).
MIN_TIMEOUT, MAX_TIMEOUT = 0.001, 3600
MAX_RETRIES, MAX_RETRY_WAIT, MAX_REQUESTS_PER_SECOND = 100, 86400, 10_000

_INTEGRATION = "Stripe"


def _number_field(
    label: str, description: str, default: float | None, minimum: float, maximum: float, *, integer: bool
) -> dict[str, Any]:
    """A number field of the form, bounded as the client bounds the setting (every wait stays finite)."""
    schema = {
        "type": ["integer" if integer else "number", "null"],
        "default": default,
        "minimum": minimum,
        "maximum": maximum,
    }
    return {"label": label, "description": description, "schema": schema}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its hook, connection form, operators and links."""
    return {
        "package-name": "airflow-provider-stripe",
        "name": "Stripe",
        "description": "`Stripe <https://stripe.com/>`__: read customers, invoices, subscriptions, charges "
        "and 43 more object types into Airflow pipelines.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://docs.stripe.com/api",
                "tags": ["software"],
            }
        ],
        "hooks": [
            {"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_stripe.hooks.stripe"]}
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_stripe.operators.objects",
                    "airflow_provider_stripe.operators.customers",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_stripe.links.StripeCustomerLink",
            "airflow_provider_stripe.links.StripeDashboardLink",
        ],
        "connection-types": [
            {
                "connection-type": "stripe",
                "hook-class-name": "airflow_provider_stripe.hooks.stripe.StripeHook",
                "hook-name": "Stripe",
                "ui-field-behaviour": {
                    "hidden-fields": ["login", "port", "schema", "extra"],
                    "relabeling": {"password": "Secret key", "host": "API base URL"},
                    "placeholders": {
                        "password": "sk_live_… / rk_live_… (or sk_test_… / rk_test_…)",
                        "host": "https://api.stripe.com",
                        "stripe_account": "acct_…",
                        "stripe_version": "2024-06-20",
                    },
                },
                "conn-fields": {
                    "stripe_account": {
                        "label": "Connected account (Stripe-Account)",
                        "description": "Act on this Connect account (acct_…) with the platform key.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "stripe_version": {
                        "label": "API version (Stripe-Version)",
                        "description": "Pin the API version so output stays the same shape; "
                        "empty uses the account default.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "max_retries": _number_field(
                        "Max retries",
                        "Retries on 429, 409, 5xx and network errors.",
                        5,
                        0,
                        MAX_RETRIES,
                        integer=True,
                    ),
                    "max_retry_wait": _number_field(
                        "Max total retry wait (seconds)",
                        "Give up once retries would wait longer.",
                        120,
                        0,
                        MAX_RETRY_WAIT,
                        integer=False,
                    ),
                    "timeout": _number_field(
                        "Timeout (seconds)",
                        "Per-request connect and read timeout.",
                        80,
                        MIN_TIMEOUT,
                        MAX_TIMEOUT,
                        integer=False,
                    ),
                    "max_requests_per_second": _number_field(
                        "Max requests per second",
                        "Client-side pacing, the most this connection sends: empty is 90 (live key) or "
                        "22 (test key), reached by climbing and adapting to Stripe's 429s; 0 turns it off, "
                        "otherwise at least 0.01.",
                        None,
                        0,
                        MAX_REQUESTS_PER_SECOND,
                        integer=False,
                    ),
                },
            }
        ],
    }
