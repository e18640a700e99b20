"""Public path of the registry of Stripe objects the docs show (``RESOURCES``).

It lives in :mod:`airflow_provider_stripe.api.registry`.
"""

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
    FilterKind,
    Resource,
    get_resource,
)

__all__ = [
    "AMOUNT_RANGE",
    "ARRAY",
    "BOOLEAN",
    "EMAIL",
    "ID",
    "INTEGER",
    "RANGE",
    "RESOURCES",
    "STRING",
    "FilterKind",
    "Resource",
    "get_resource",
]
