"""Extra links of the Stripe operators (kept importable as ``airflow_provider_stripe.links``)."""

from airflow_provider_stripe.links.dashboard import (
    StripeCustomerLink,
    StripeDashboardLink,
    customer_dashboard_url,
    dashboard_url,
    resource_dashboard_url,
)

__all__ = [
    "StripeCustomerLink",
    "StripeDashboardLink",
    "customer_dashboard_url",
    "dashboard_url",
    "resource_dashboard_url",
]
