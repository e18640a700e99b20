"""Public path of the registry of Stripe objects the docs show (``RESOURCES``).

It lives, with the filter kinds, in :mod:`airflow_provider_stripe.api.registry`.
"""

from airflow_provider_stripe.api.registry import RESOURCES, Resource, get_resource

__all__ = ["RESOURCES", "Resource", "get_resource"]
