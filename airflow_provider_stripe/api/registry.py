"""The registry of Stripe object types: one table of data, no class or module per object.

Each row says where an object lives in the API (its list path), what Stripe
calls it, whether its list takes ``created``, the filters its list accepts (and
what kind of value each takes), list defaults that would otherwise hide data,
its embedded lists, whether it can be searched, its event prefix and its
Dashboard page. Generic code (listing, search, parallel export, change capture,
links, lineage) reads the row and has no per-object branch.

The rows are checked against stripe-python, Stripe's own generated SDK, as of the
API version it pins (``tests/test_registry.py``, through ``tests/stripe_sdk.py``):
every filter, its kind and enum values, ``created``, search and the ``object`` name.
To add an object: add a row to :data:`RESOURCES`, give the test server its example
object (``scripts/openapi_subset.py``, then ``scripts/sdk_subset.py``) and run the
tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Union

from airflow_provider_stripe.api.events import OBJECT_EVENTS, ObjectEvents
from airflow_provider_stripe.exceptions import StripeParameterError

#: Filter kinds: what value a list filter takes (a tuple of strings is an enum of those values).
ID = "id"  #: a Stripe id (``cus_…``), checked like every id
STRING = "string"  #: free text (at most 5000 characters)
EMAIL = "email"  #: an email address (at most 512 characters)
BOOLEAN = "boolean"  #: True or False (or a template's "true"/"false")
INTEGER = "integer"
RANGE = "range"  #: a timestamp or ``{"gt"|"gte"|"lt"|"lte": timestamp}``, as ``created``
AMOUNT_RANGE = "amount_range"  #: an amount or ``{"gt"|"gte"|"lt"|"lte": amount}``, in the smallest unit
ARRAY = "array"  #: a list of strings (sent as ``name[]``)
FilterKind = Union[str, tuple[str, ...]]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class Resource:
    """One Stripe object type, as data."""

    #: The list path under ``/v1/`` (``customers``, ``checkout/sessions`` …); a child collection's
    #: names its parent in braces (``customers/{customer}/balance_transactions``).
    path: str
    #: The ``object`` field of its records (``customer``, ``checkout.session``).
    object: str
    #: Its page in the Dashboard, under ``dashboard.stripe.com[/acct][/test]/`` (None: no link).
    dashboard_path: str | None
    #: The list's filters besides ``limit``, the cursors, ``created`` and ``expand``.
    filters: Mapping[str, FilterKind] = field(default_factory=lambda: _frozen({}))
    #: Filters Stripe's list takes that this provider does not, each with the reason (nested
    #: objects such as ``recurring[interval]``: filter the exported records instead).
    unsupported_filters: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    #: The list takes ``created`` (and so can be exported in parallel ``created`` windows).
    created: bool = True
    #: The records' field that ``created`` filters on (invoice items call it ``date``).
    created_field: str = "created"
    #: Filters sent unless the caller gives them: Stripe's own defaults would hide data
    #: (subscriptions list only the uncanceled ones without ``status=all``).
    list_defaults: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    #: Embedded Stripe lists of each object (paged to the end by the client when cut short).
    lists: tuple[str, ...] = ()
    #: ``GET /v1/<path>/search`` exists (Stripe's query language).
    searchable: bool = False
    #: Its events are ``<event_prefix>.<what happened>`` (None: it has none of its own).
    event_prefix: str | None = None
    #: Change capture (``iter_changes``) reads its ``<prefix>.created/updated/deleted`` events:
    #: only for objects whose delete event means the object is gone.
    change_capture: bool = False
    #: A deleted one still answers 200 ``{"deleted": true}`` (customers); else it answers 404.
    retrieves_deleted: bool = False
    #: Stripe keeps these only so long (events: 30 days): an older ``created`` window is refused.
    retention_days: int | None = None
    #: Its name here, what ``resource=`` takes (default: the path).
    name: str = ""
    #: A child collection's parent: the parameter naming it (``customer``, ``account``,
    #: ``subscription``), in the path's braces or, when the path has none, a required filter.
    parent: str | None = None
    #: Other ``object`` values its records may have (external accounts: cards besides bank accounts).
    other_objects: tuple[str, ...] = ()
    #: One object at its path, with no id and no list (the balance).
    singleton: bool = False
    #: Its list runs newest first, as Stripe's lists do; False where it keeps the parent's own
    #: order (a subscription's items, an account's external accounts): pages are then not
    #: checked for going back in ``created`` order.
    newest_first: bool = True

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.path)

    @property
    def events(self) -> ObjectEvents:
        """Which events carry its records, and what they mean (see :mod:`.events`)."""
        return OBJECT_EVENTS[self.object]

    @property
    def objects(self) -> tuple[str, ...]:
        """Every ``object`` its records may have."""
        return (self.object, *self.other_objects)

    def list_path(self, parent_id: str | None) -> str:
        """The concrete path of its list: the parent's id in the path's braces (checked by the caller)."""
        if self.parent is None or "{" not in self.path:
            return self.path
        assert parent_id is not None
        return self.path.replace("{" + self.parent + "}", parent_id)

    @property
    def id_param(self) -> str:
        """The parameter that names one id, in errors (``customer_id``, ``checkout_session_id``)."""
        return f"{self.object.replace('.', '_')}_id"

    @property
    def list_url(self) -> str:
        return f"/v1/{self.path}"

    @property
    def parent_in_path(self) -> bool:
        return self.parent is not None and "{" in self.path

    @property
    def change_event_types(self) -> tuple[str, str, str]:
        """The events that create, change and delete one of these objects."""
        if not self.change_capture or self.event_prefix is None:
            capturable = ", ".join(sorted(name for name, row in RESOURCES.items() if row.change_capture))
            raise StripeParameterError(
                "resource", f"{self.path!r} has no change capture yet (it has: {capturable})"
            )
        prefix = self.event_prefix
        return (f"{prefix}.created", f"{prefix}.updated", f"{prefix}.deleted")

    @property
    def deleted_event_type(self) -> str:
        return self.change_event_types[2]


_SUBSCRIPTION_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
_COLLECTION_METHODS = ("charge_automatically", "send_invoice")
_FILE_PURPOSES = (
    "account_requirement", "additional_verification", "business_icon", "business_logo",
    "customer_signature", "dispute_evidence", "document_provider_identity_document", "finance_report_run",
    "financial_account_statement", "identity_document", "identity_document_downloadable",
    "issuing_regulatory_reporting", "pci_document", "platform_terms_of_service", "selfie",
    "sigma_scheduled_query", "tax_document_user_upload", "terminal_android_apk",
    "terminal_reader_splashscreen", "terminal_wifi_certificate", "terminal_wifi_private_key",
)  # fmt: skip
_PAYMENT_METHOD_TYPES = (
    "acss_debit", "affirm", "afterpay_clearpay", "alipay", "alma", "amazon_pay", "au_becs_debit",
    "bacs_debit", "bancontact", "billie", "bizum", "blik", "boleto", "card", "cashapp", "crypto", "custom",
    "customer_balance", "eps", "fpx", "giropay", "grabpay", "ideal", "kakao_pay", "klarna", "konbini",
    "kr_card", "link", "mb_way", "mobilepay", "multibanco", "naver_pay", "nz_bank_account", "oxxo", "p24",
    "pay_by_bank", "payco", "paynow", "paypal", "paypay", "payto", "pix", "promptpay", "revolut_pay",
    "samsung_pay", "satispay", "scalapay", "sepa_debit", "sequra", "sofort", "sunbit", "swish", "twint",
    "upi", "us_bank_account", "wechat_pay", "zip",
)  # fmt: skip


def _nested(name: str) -> str:
    return f"a nested object filter ({name}[…]); filter the exported records instead"


def _row(path: str, object: str, dashboard_path: str | None, **settings: Any) -> Resource:
    for name in ("filters", "unsupported_filters", "list_defaults"):
        if name in settings:
            settings[name] = _frozen(settings[name])
    return Resource(path=path, object=object, dashboard_path=dashboard_path, **settings)


RESOURCES: Mapping[str, Resource] = _frozen(
    {
        row.name: row
        for row in (
            _row(
                "customers",
                "customer",
                "customers",
                filters={"email": EMAIL, "test_clock": ID},
                lists=("sources", "subscriptions", "tax_ids"),
                searchable=True,
                event_prefix="customer",
                change_capture=True,
                retrieves_deleted=True,
            ),
            _row(
                "invoices",
                "invoice",
                "invoices",
                filters={
                    "customer": ID,
                    "customer_account": ID,
                    "subscription": ID,
                    "status": ("draft", "open", "paid", "uncollectible", "void"),
                    "collection_method": _COLLECTION_METHODS,
                    "due_date": RANGE,
                },
                lists=("lines",),
                searchable=True,
                event_prefix="invoice",
            ),
            _row(
                "invoiceitems",
                "invoiceitem",
                None,
                filters={"customer": ID, "customer_account": ID, "invoice": ID, "pending": BOOLEAN},
                created_field="date",
                event_prefix="invoiceitem",
            ),
            _row(
                "subscriptions",
                "subscription",
                "subscriptions",
                filters={
                    "customer": ID,
                    "customer_account": ID,
                    "plan": ID,
                    "price": ID,
                    "status": _SUBSCRIPTION_STATUSES,
                    "collection_method": _COLLECTION_METHODS,
                    "current_period_end": RANGE,
                    "current_period_start": RANGE,
                    "test_clock": ID,
                },
                unsupported_filters={"automatic_tax": _nested("automatic_tax")},
                list_defaults={"status": "all"},
                lists=("items",),
                searchable=True,
                event_prefix="customer.subscription",
            ),
            _row(
                "subscription_schedules",
                "subscription_schedule",
                "subscription_schedules",
                filters={
                    "customer": ID,
                    "customer_account": ID,
                    "canceled_at": RANGE,
                    "completed_at": RANGE,
                    "released_at": RANGE,
                    "scheduled": BOOLEAN,
                },
                event_prefix="subscription_schedule",
            ),
            _row(
                "charges",
                "charge",
                "payments",
                filters={"customer": ID, "payment_intent": ID, "transfer_group": STRING},
                lists=("refunds",),
                searchable=True,
                event_prefix="charge",
            ),
            _row(
                "payment_intents",
                "payment_intent",
                "payments",
                filters={"customer": ID, "customer_account": ID},
                searchable=True,
                event_prefix="payment_intent",
            ),
            _row(
                "refunds",
                "refund",
                None,
                filters={"charge": ID, "payment_intent": ID},
                event_prefix="refund",
            ),
            _row(
                "disputes",
                "dispute",
                None,
                filters={"charge": ID, "payment_intent": ID},
                event_prefix="charge.dispute",
            ),
            _row(
                "products",
                "product",
                "products",
                filters={
                    "active": BOOLEAN,
                    "ids": ARRAY,
                    "shippable": BOOLEAN,
                    "type": ("good", "service"),
                    "url": STRING,
                },
                searchable=True,
                event_prefix="product",
            ),
            _row(
                "prices",
                "price",
                "prices",
                filters={
                    "active": BOOLEAN,
                    "currency": STRING,
                    "lookup_keys": ARRAY,
                    "product": ID,
                    "type": ("one_time", "recurring"),
                },
                unsupported_filters={"recurring": _nested("recurring")},
                searchable=True,
                event_prefix="price",
            ),
            _row("coupons", "coupon", "coupons", event_prefix="coupon"),
            _row(
                "promotion_codes",
                "promotion_code",
                None,
                filters={
                    "active": BOOLEAN,
                    "code": STRING,
                    "coupon": ID,
                    "customer": ID,
                    "customer_account": ID,
                },
                event_prefix="promotion_code",
            ),
            _row(
                "balance_transactions",
                "balance_transaction",
                None,
                filters={"currency": STRING, "payout": ID, "source": ID, "type": STRING},
            ),
            _row(
                "payouts",
                "payout",
                "payouts",
                filters={"arrival_date": RANGE, "destination": ID, "status": STRING},
                event_prefix="payout",
            ),
            _row(
                "credit_notes",
                "credit_note",
                None,
                filters={"customer": ID, "customer_account": ID, "invoice": ID},
                lists=("lines",),
                event_prefix="credit_note",
            ),
            _row(
                "checkout/sessions",
                "checkout.session",
                None,
                filters={
                    "customer": ID,
                    "customer_account": ID,
                    "payment_intent": ID,
                    "payment_link": ID,
                    "status": ("complete", "expired", "open"),
                    "subscription": ID,
                },
                unsupported_filters={"customer_details": _nested("customer_details")},
                lists=("line_items",),
                event_prefix="checkout.session",
            ),
            _row(
                "tax_rates",
                "tax_rate",
                "tax-rates",
                filters={"active": BOOLEAN, "inclusive": BOOLEAN},
                event_prefix="tax_rate",
            ),
            _row(
                "accounts",
                "account",
                "connect/accounts",
                lists=("external_accounts",),
                event_prefix="account",
            ),
            _row("plans", "plan", None, filters={"active": BOOLEAN, "product": ID}, event_prefix="plan"),
            _row(
                "setup_intents",
                "setup_intent",
                None,
                filters={
                    "attach_to_self": BOOLEAN,
                    "customer": ID,
                    "customer_account": ID,
                    "payment_method": ID,
                },
                event_prefix="setup_intent",
            ),
            _row(
                "transfers",
                "transfer",
                "connect/transfers",
                filters={"destination": ID, "transfer_group": STRING},
                lists=("reversals",),
                event_prefix="transfer",
            ),
            _row(
                "application_fees",
                "application_fee",
                "connect/application_fees",
                filters={"charge": ID},
                lists=("refunds",),
                event_prefix="application_fee",
            ),
            _row(
                "topups",
                "topup",
                None,
                filters={"amount": AMOUNT_RANGE, "status": ("canceled", "failed", "pending", "succeeded")},
                event_prefix="topup",
            ),
            _row(
                "quotes",
                "quote",
                "quotes",
                filters={
                    "customer": ID,
                    "customer_account": ID,
                    "status": ("accepted", "canceled", "draft", "open"),
                    "test_clock": ID,
                },
                created=False,
                lists=("line_items",),
                event_prefix="quote",
            ),
            _row(
                "shipping_rates",
                "shipping_rate",
                None,
                filters={"active": BOOLEAN, "currency": STRING},
            ),
            _row(
                "payment_links",
                "payment_link",
                "payment-links",
                filters={"active": BOOLEAN},
                created=False,
                lists=("line_items",),
                event_prefix="payment_link",
            ),
            _row("reviews", "review", None, event_prefix="review"),
            _row("file_links", "file_link", None, filters={"expired": BOOLEAN, "file": ID}),
            _row(
                "balance",
                "balance",
                "balance/overview",
                created=False,
                singleton=True,
                event_prefix="balance",
            ),
            _row(
                "payment_methods",
                "payment_method",
                None,
                filters={
                    "allow_redisplay": ("always", "limited", "unspecified"),
                    "customer": ID,
                    "customer_account": ID,
                    "type": _PAYMENT_METHOD_TYPES,
                },
                created=False,
                event_prefix="payment_method",
            ),
            _row(
                "subscription_items",
                "subscription_item",
                None,
                parent="subscription",
                created=False,
                newest_first=False,
            ),
            _row(
                "customers/{customer}/balance_transactions",
                "customer_balance_transaction",
                None,
                name="customer_balance_transactions",
                parent="customer",
                filters={"invoice": ID},
            ),
            _row(
                "accounts/{account}/persons",
                "person",
                None,
                name="persons",
                parent="account",
                unsupported_filters={"relationship": _nested("relationship")},
                created=False,
                event_prefix="person",
            ),
            _row(
                "accounts/{account}/external_accounts",
                "bank_account",
                None,
                name="external_accounts",
                parent="account",
                other_objects=("card",),
                filters={"object": ("bank_account", "card")},
                created=False,
                newest_first=False,
            ),
            _row(
                "tax_ids",
                "tax_id",
                None,
                unsupported_filters={"owner": _nested("owner")},
                created=False,
                event_prefix="customer.tax_id",
            ),
            _row("files", "file", None, filters={"purpose": _FILE_PURPOSES}, event_prefix="file"),
            _row(
                "radar/early_fraud_warnings",
                "radar.early_fraud_warning",
                None,
                filters={"charge": ID, "payment_intent": ID},
                event_prefix="radar.early_fraud_warning",
            ),
            _row(
                "issuing/authorizations",
                "issuing.authorization",
                None,
                filters={
                    "card": ID,
                    "cardholder": ID,
                    "status": ("closed", "expired", "pending", "reversed"),
                },
                event_prefix="issuing_authorization",
            ),
            _row(
                "issuing/cardholders",
                "issuing.cardholder",
                None,
                filters={
                    "email": EMAIL,
                    "phone_number": STRING,
                    "status": ("active", "blocked", "inactive"),
                    "type": ("company", "individual"),
                },
                event_prefix="issuing_cardholder",
            ),
            _row(
                "issuing/cards",
                "issuing.card",
                None,
                filters={
                    "cardholder": ID,
                    "exp_month": INTEGER,
                    "exp_year": INTEGER,
                    "last4": STRING,
                    "personalization_design": ID,
                    "status": ("active", "canceled", "inactive"),
                    "type": ("physical", "virtual"),
                },
                event_prefix="issuing_card",
            ),
            _row(
                "issuing/transactions",
                "issuing.transaction",
                None,
                filters={"card": ID, "cardholder": ID, "type": ("capture", "refund")},
                event_prefix="issuing_transaction",
            ),
            _row(
                "issuing/disputes",
                "issuing.dispute",
                None,
                filters={
                    "status": ("expired", "lost", "submitted", "unsubmitted", "won"),
                    "transaction": ID,
                },
                event_prefix="issuing_dispute",
            ),
            _row(
                "billing/meters",
                "billing.meter",
                None,
                filters={"status": ("active", "inactive")},
                created=False,
                event_prefix="billing.meter",
            ),
            _row(
                "billing/credit_grants",
                "billing.credit_grant",
                None,
                filters={"customer": ID, "customer_account": ID},
                created=False,
                event_prefix="billing.credit_grant",
            ),
            _row(
                "invoice_payments",
                "invoice_payment",
                None,
                filters={"invoice": ID, "status": ("canceled", "open", "paid")},
                unsupported_filters={"payment": _nested("payment")},
                event_prefix="invoice_payment",
            ),
            _row(
                "events",
                "event",
                "events",
                filters={"type": STRING, "types": ARRAY, "delivery_success": BOOLEAN},
                retention_days=30,
            ),
        )
    }
)


def get_resource(name: str) -> Resource:
    """The registered resource ``name`` (its list path), or a parameter error naming the known ones."""
    try:
        return RESOURCES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(RESOURCES))
        raise StripeParameterError("resource", f"unknown Stripe resource {name!r}; known: {known}") from None
