"""Extra links: jump from a task to the object in the Stripe Dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_stripe.api.registry import Resource

DASHBOARD = "https://dashboard.stripe.com"


def dashboard_url(*path: str, mode: str, stripe_account: str | None = None) -> str:
    """A Dashboard page: ``/{acct_…}/test/<path>``, account and ``test`` as they apply."""
    parts = [DASHBOARD]
    if stripe_account:
        parts.append(quote(stripe_account, safe=""))
    if mode != "live":
        parts.append("test")
    parts += [quote(part, safe="") for part in path]
    return "/".join(parts)


def resource_dashboard_url(
    resource: Resource, *object_id: str, mode: str, stripe_account: str | None = None
) -> str | None:
    """The page of a resource (or of one object of it), or None where the Dashboard has none."""
    if resource.dashboard_path is None:
        return None
    return dashboard_url(
        *resource.dashboard_path.split("/"), *object_id, mode=mode, stripe_account=stripe_account
    )


def customer_dashboard_url(customer_id: str, *, mode: str, stripe_account: str | None = None) -> str:
    """The customer's page: ``/{acct_…}/test/customers/{id}``."""
    return dashboard_url("customers", customer_id, mode=mode, stripe_account=stripe_account)


class StripeDashboardLink(BaseOperatorLink):
    """ "Stripe Dashboard" on a task: the page of what it read.

    The task records the URL while it runs (it knows the key's mode and the
    account then); Airflow stores what this returns as the link.
    """

    name = "Stripe Dashboard"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        url: Any = getattr(operator, "stripe_dashboard_url", None)
        return url if isinstance(url, str) else ""


class StripeCustomerLink(StripeDashboardLink):
    """ "Stripe Dashboard" on a task that retrieved a customer: the customer's page."""
