"""Public path of the parameter helpers the docs show (``split_created`` …).

They live in :mod:`airflow_provider_stripe.api.params`, with every other parameter check.
"""

from airflow_provider_stripe.api.params import (
    DEFAULT_CONN_ID,
    MAX_PAGE_SIZE,
    CreatedFilter,
    Timestamp,
    created_bounds,
    normalize_created,
    split_created,
    to_unix,
)

__all__ = [
    "DEFAULT_CONN_ID",
    "MAX_PAGE_SIZE",
    "CreatedFilter",
    "Timestamp",
    "created_bounds",
    "normalize_created",
    "split_created",
    "to_unix",
]
