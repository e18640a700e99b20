"""The registry of Stripe object types: one table of data, no class or module per object.

Each entry says where the object lives in the API (its list path), what Stripe
calls it, which parameter names its id in our errors, and the prefix of its
``<prefix>.created/updated/deleted`` events, so generic code (change capture,
dashboard links, lineage) needs no per-object branches. To add an object, add a
row to :data:`RESOURCES`.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_stripe.exceptions import StripeParameterError


@dataclass(frozen=True)
class Resource:
    """One Stripe object type, as data."""

    #: The list path under ``/v1/`` (``customers``, ``checkout/sessions`` …); also its name here.
    path: str
    #: The ``object`` field of its records (``customer``).
    object: str
    #: The parameter that names one id, for errors (``customer_id``).
    id_param: str
    #: ``<event_prefix>.created/updated/deleted`` are its change events (None: it has none).
    event_prefix: str | None
    #: Its page in the Dashboard, under ``dashboard.stripe.com[/acct][/test]/``.
    dashboard_path: str
    #: A deleted one still answers 200 ``{"deleted": true}`` (customers); else it answers 404.
    retrieves_deleted: bool = False

    @property
    def change_event_types(self) -> tuple[str, str, str]:
        """The events that create, change and delete one of these objects."""
        if self.event_prefix is None:
            raise StripeParameterError("resource", f"{self.path!r} has no change events")
        prefix = self.event_prefix
        return (f"{prefix}.created", f"{prefix}.updated", f"{prefix}.deleted")

    @property
    def deleted_event_type(self) -> str:
        return self.change_event_types[2]


RESOURCES: dict[str, Resource] = {
    resource.path: resource
    for resource in (
        Resource(
            path="customers",
            object="customer",
            id_param="customer_id",
            event_prefix="customer",
            dashboard_path="customers",
            retrieves_deleted=True,
        ),
    )
}


def get_resource(name: str) -> Resource:
    """The registered resource ``name`` (its list path), or a parameter error naming the known ones."""
    try:
        return RESOURCES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(RESOURCES))
        raise StripeParameterError("resource", f"unknown Stripe resource {name!r}; known: {known}") from None
