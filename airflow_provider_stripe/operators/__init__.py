"""Operators of the Stripe provider: generic ones for any registered object, and customers ones."""

from __future__ import annotations

from airflow_provider_stripe.operators.customers import (
    StripeCustomerChangesOperator,
    StripeGetCustomerOperator,
    StripeListCustomersOperator,
)
from airflow_provider_stripe.operators.objects import (
    StripeGetOperator,
    StripeListOperator,
    StripeSearchOperator,
)

__all__ = [
    "StripeCustomerChangesOperator",
    "StripeGetCustomerOperator",
    "StripeGetOperator",
    "StripeListCustomersOperator",
    "StripeListOperator",
    "StripeSearchOperator",
]
