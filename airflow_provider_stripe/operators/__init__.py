"""Operators of the Stripe provider."""

from __future__ import annotations

from airflow_provider_stripe.operators.customers import (
    StripeCustomerChangesOperator,
    StripeGetCustomerOperator,
    StripeListCustomersOperator,
)

__all__ = ["StripeCustomerChangesOperator", "StripeGetCustomerOperator", "StripeListCustomersOperator"]
