"""Which events carry each object (``api.events``), checked against stripe-python's typed events.

stripe-python generates one class per event type (``stripe/events/_v1_*.py``) whose
``fetch_related_object`` names the class of its ``data.object``: that is which object an
event carries, whatever its type's prefix says.
"""

from __future__ import annotations

import pytest

from airflow_provider_stripe.api.events import OBJECT_EVENTS, UNTYPED_EVENTS
from airflow_provider_stripe.api.registry import RESOURCES
from tests.stripe_sdk import sdk_event_objects, sdk_event_types

OBJECTS = sorted({name for row in RESOURCES.values() for name in row.objects})


def test_every_object_of_the_registry_says_what_its_events_are():
    assert sorted(OBJECT_EVENTS) == OBJECTS
    assert all(row.events is OBJECT_EVENTS[row.object] for row in RESOURCES.values())


@pytest.mark.parametrize("name", OBJECTS)
def test_the_events_of_an_object_are_the_ones_stripe_python_says_carry_it(name: str):
    events = OBJECT_EVENTS[name]
    typed = {t for t, carried in sdk_event_objects().items() if carried == name and t in sdk_event_types()}
    assert set(events.types) - UNTYPED_EVENTS == typed, name
    assert set(events.types) <= sdk_event_types(), "types /v1/events does not list"
    assert len(events.types) == len(set(events.types))


@pytest.mark.parametrize("name", OBJECTS)
def test_what_the_events_mean_holds_together(name: str):
    events = OBJECT_EVENTS[name]
    assert set(events.deletes) <= set(events.types) and all(t.endswith(".deleted") for t in events.deletes)
    if events.immutable:  # never changes: at most a creation event, never a silent change
        assert all(t.endswith(".created") for t in events.types) and not events.changes_silently
    if events.created_event:
        assert events.types, f"{name}: a creation event among no events"


def test_the_traps_are_named():
    """The cases a naive events reader gets wrong, as the issue lists them."""
    assert "charge.refund.updated" in OBJECT_EVENTS["refund"].types
    assert "charge.refund.updated" not in OBJECT_EVENTS["charge"].types
    assert OBJECT_EVENTS["subscription"].deletes == ()  # customer.subscription.deleted: ended, not gone
    assert "customer.subscription.deleted" in OBJECT_EVENTS["subscription"].types
    assert OBJECT_EVENTS["price"].deletes == ()  # archived, never gone
    assert OBJECT_EVENTS["invoice"].deletes == ("invoice.deleted",)  # drafts
    assert not OBJECT_EVENTS["checkout.session"].created_event
    assert OBJECT_EVENTS["topup"].changes_silently and OBJECT_EVENTS["quote"].changes_silently
    assert OBJECT_EVENTS["balance_transaction"].immutable
    assert all(t.startswith("charge.dispute.") for t in OBJECT_EVENTS["dispute"].types)
    assert {"customer.tax_id.created", "customer.tax_id.deleted"} <= set(OBJECT_EVENTS["tax_id"].types)


def test_events_without_a_typed_class_are_still_listed_and_still_untyped():
    """If stripe-python gains a typed class for one of these, the check above takes it over."""
    assert sdk_event_types() >= UNTYPED_EVENTS
    assert not UNTYPED_EVENTS & set(sdk_event_objects())
