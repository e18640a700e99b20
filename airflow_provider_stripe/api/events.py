"""Which of Stripe's events carry each object, and what they mean for a table kept equal to Stripe.

An event's ``data.object`` is an object of one kind, named by its ``object`` field, and the
event's type does not always say which: disputes come as ``charge.dispute.*``, refunds as
``refund.*`` and ``charge.refund.updated``, subscriptions as ``customer.subscription.*``,
and ``customer.*`` also carries discounts, tax ids and sources. This table says, for every
object of the registry (by its ``object`` name):

- every event type whose ``data.object`` is one of them;
- which of those really delete it (afterwards it answers 404, or ``deleted: true``), as
  opposed to types that only change its state under a ``deleted`` name
  (``customer.subscription.deleted``: the subscription ended and stays retrievable);
- whether its creation emits an event (a checkout session's does not);
- whether it can change without any event (a top-up's update, a quote's edit), so that
  events alone leave it stale;
- whether it never changes once created (balance transactions), so that ``created``
  windows are already exact.

``tests/test_events.py`` checks the event types against stripe-python's typed events
(``stripe/events/_v1_*.py`` name the object each event carries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ObjectEvents:
    """The events of one kind of object, and what they say about it."""

    #: Every event type whose ``data.object`` is this object.
    types: tuple[str, ...] = ()
    #: Those after which the object is gone.
    deletes: tuple[str, ...] = ()
    #: Its creation emits one of ``types`` (False: a new one is found only by listing ``created``).
    created_event: bool = True
    #: It can change without any event: events alone leave it stale; re-snapshot it.
    changes_silently: bool = False
    #: It never changes once created: ``created`` windows read it exactly.
    immutable: bool = False


def _crud(prefix: str, *more: str, deletes: bool = False, **settings: bool) -> ObjectEvents:
    """``<prefix>.created`` and ``.updated`` (and ``.deleted``, which deletes), plus ``more``."""
    kinds = ["created", "updated", *more] + (["deleted"] if deletes else [])
    return ObjectEvents(
        types=tuple(sorted(f"{prefix}.{kind}" for kind in kinds)),
        deletes=(f"{prefix}.deleted",) if deletes else (),
        **settings,
    )


def _events(*types: str, deletes: tuple[str, ...] = (), **settings: bool) -> ObjectEvents:
    return ObjectEvents(types=tuple(sorted(types)), deletes=deletes, **settings)


#: External accounts and customer sources: events stripe-python has no typed class for.
_EXTERNAL_ACCOUNT = ("account.external_account.created", "account.external_account.updated")
_SOURCE = ("customer.source.created", "customer.source.expiring", "customer.source.updated")
_PAYMENT_SOURCE = _events(
    *_EXTERNAL_ACCOUNT,
    "account.external_account.deleted",
    *_SOURCE,
    "customer.source.deleted",
    deletes=("account.external_account.deleted", "customer.source.deleted"),
)

#: By ``object`` name: every object the registry lists.
OBJECT_EVENTS: Mapping[str, ObjectEvents] = MappingProxyType(
    {
        "account": _events("account.updated", created_event=False),
        "application_fee": _events("application_fee.created", "application_fee.refunded"),
        "balance": _events("balance.available", created_event=False),
        "balance_transaction": ObjectEvents(created_event=False, immutable=True),
        "bank_account": _PAYMENT_SOURCE,
        "billing.credit_grant": _crud("billing.credit_grant"),
        "billing.meter": _crud("billing.meter", "deactivated", "reactivated"),
        "card": _PAYMENT_SOURCE,
        "charge": _events(  # created as pending, succeeded or failed: there is no charge.created
            "charge.captured",
            "charge.expired",
            "charge.failed",
            "charge.pending",
            "charge.refunded",
            "charge.succeeded",
            "charge.updated",
        ),
        "checkout.session": _events(
            "checkout.session.async_payment_failed",
            "checkout.session.async_payment_succeeded",
            "checkout.session.completed",
            "checkout.session.expired",
            created_event=False,
        ),
        "coupon": _crud("coupon", deletes=True),
        "credit_note": _crud("credit_note", "voided"),
        "customer": _crud("customer", deletes=True),
        "customer_balance_transaction": ObjectEvents(created_event=False, changes_silently=True),
        "dispute": _crud("charge.dispute", "closed", "funds_reinstated", "funds_withdrawn"),
        "event": ObjectEvents(created_event=False, immutable=True),
        "file": _events("file.created", immutable=True),
        "file_link": ObjectEvents(created_event=False, changes_silently=True),
        "invoice": _events(  # invoice.deleted only ever deletes a draft
            "invoice.created",
            "invoice.deleted",
            "invoice.finalization_failed",
            "invoice.finalized",
            "invoice.marked_uncollectible",
            "invoice.overdue",
            "invoice.overpaid",
            "invoice.paid",
            "invoice.payment_action_required",
            "invoice.payment_attempt_required",
            "invoice.payment_failed",
            "invoice.payment_succeeded",
            "invoice.sent",
            "invoice.updated",
            "invoice.voided",
            "invoice.will_be_due",
            deletes=("invoice.deleted",),
        ),
        "invoice_payment": _events("invoice_payment.paid", created_event=False, changes_silently=True),
        # No invoiceitem.updated since 2024-04-10: an update emits nothing.
        "invoiceitem": _events(
            "invoiceitem.created",
            "invoiceitem.deleted",
            deletes=("invoiceitem.deleted",),
            changes_silently=True,
        ),
        "issuing.authorization": _crud("issuing_authorization", "request"),
        "issuing.card": _crud("issuing_card"),
        "issuing.cardholder": _crud("issuing_cardholder"),
        "issuing.dispute": _crud(
            "issuing_dispute", "closed", "funds_reinstated", "funds_rescinded", "submitted"
        ),
        "issuing.transaction": _crud("issuing_transaction", "purchase_details_receipt_updated"),
        "payment_intent": _events(
            "payment_intent.amount_capturable_updated",
            "payment_intent.canceled",
            "payment_intent.created",
            "payment_intent.partially_funded",
            "payment_intent.payment_failed",
            "payment_intent.processing",
            "payment_intent.requires_action",
            "payment_intent.succeeded",
        ),
        "payment_link": _crud("payment_link"),
        "payment_method": _events(  # detached is not deleted: the payment method stays
            "payment_method.attached",
            "payment_method.automatically_updated",
            "payment_method.detached",
            "payment_method.updated",
            created_event=False,
        ),
        "payout": _crud("payout", "canceled", "failed", "paid", "reconciliation_completed"),
        "person": _crud("person", deletes=True),
        "plan": _crud("plan", deletes=True),
        "price": _crud("price", "deleted"),  # prices are archived, never gone: price.deleted is a state
        "product": _crud("product", deletes=True),
        "promotion_code": _crud("promotion_code"),
        "quote": _events(  # no quote.updated: an edit emits nothing
            "quote.accepted", "quote.canceled", "quote.created", "quote.finalized", changes_silently=True
        ),
        "radar.early_fraud_warning": _crud("radar.early_fraud_warning"),
        "refund": _events("charge.refund.updated", "refund.created", "refund.failed", "refund.updated"),
        "review": _events("review.closed", "review.opened"),
        "setup_intent": _events(
            "setup_intent.canceled",
            "setup_intent.created",
            "setup_intent.requires_action",
            "setup_intent.setup_failed",
            "setup_intent.succeeded",
        ),
        "shipping_rate": ObjectEvents(created_event=False, changes_silently=True),
        # customer.subscription.deleted means ended: the subscription stays, status canceled.
        "subscription": _events(
            "customer.subscription.created",
            "customer.subscription.deleted",
            "customer.subscription.paused",
            "customer.subscription.pending_update_applied",
            "customer.subscription.pending_update_expired",
            "customer.subscription.resumed",
            "customer.subscription.trial_will_end",
            "customer.subscription.updated",
        ),
        # Its changes come inside its subscription's customer.subscription.* events.
        "subscription_item": ObjectEvents(created_event=False, changes_silently=True),
        "subscription_schedule": _crud(
            "subscription_schedule", "aborted", "canceled", "completed", "expiring", "released"
        ),
        "tax_id": _crud("customer.tax_id", deletes=True),
        "tax_rate": _crud("tax_rate"),
        "topup": _events(  # an update emits nothing
            "topup.canceled",
            "topup.created",
            "topup.failed",
            "topup.reversed",
            "topup.succeeded",
            changes_silently=True,
        ),
        "transfer": _crud("transfer", "reversed"),
    }
)

#: Event types stripe-python 16.1.0 lists in ``Event.type`` but has no typed class for.
UNTYPED_EVENTS = frozenset(
    {*_EXTERNAL_ACCOUNT, "account.external_account.deleted", *_SOURCE, "customer.source.deleted"}
)
