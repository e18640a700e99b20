"""Customers operators: the generic ones with typed filters, and change capture from events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_stripe.api.params import (
    DEFAULT_CONN_ID,
    DEFAULT_SETTLE_SECONDS,
    MAX_PAGE_SIZE,
    CreatedFilter,
    check_bool,
    check_int,
)
from airflow_provider_stripe.api.registry import get_resource
from airflow_provider_stripe.exceptions import StripeParameterError
from airflow_provider_stripe.links import StripeCustomerLink, StripeDashboardLink, dashboard_url
from airflow_provider_stripe.operators.objects import StripeGetOperator, StripeListOperator, _StripeOperator

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

EVENTS_URL = "/v1/events"
CUSTOMERS = "customers"


def _email_as_filter(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments with an explicit ``email`` renamed to ``customer_email`` (the filter)."""
    if "email" in kwargs:
        if kwargs.get("customer_email") is not None:
            raise StripeParameterError("email", "give the filter as email or as customer_email, not both")
        kwargs["customer_email"] = kwargs.pop("email")
    return kwargs


class StripeListCustomersOperator(StripeListOperator):
    """List Stripe customers, newest first, into XCom or a file in object storage.

    :class:`~airflow_provider_stripe.operators.objects.StripeListOperator` for
    ``"customers"``, with the filters as typed parameters.

    :param stripe_conn_id: Connection of type ``stripe``.
    :param limit: At most this many customers in total (across pages); ``None`` means all.
    :param starting_after: Customer id cursor: only customers after (older than) it.
    :param ending_before: Customer id cursor: only customers before (newer than) it;
        listed oldest to newest.
    :param email: Exact, case-sensitive email filter, when passed to the operator or to
        ``.partial()``; kept as ``customer_email``. An ``email`` in ``default_args`` is
        never a filter: it stays BaseOperator's failure-alert address.
    :param customer_email: The same filter by its attribute name (map over this one).
        None lists every customer; an empty or ``"None"`` value (a template's) fails
        before any request rather than list every customer.
    :param created: Unix seconds, datetime or ISO-8601 string, or a range dict with
        ``gt``/``gte``/``lt``/``lte``; e.g. ``{"gte": "{{ data_interval_start }}",
        "lt": "{{ data_interval_end }}"}`` for exactly one data interval.
    :param test_clock: Only customers of this test clock.
    :param expand: Paths to expand, e.g. ``["data.default_source"]``.
    :param stripe_account: Connect account (``acct_…``) to act on; overrides the connection.
    :param page_size: Customers per request (1-100).
    :param output_path: Where to write (``str`` or ``ObjectStoragePath``); without it
        the result goes to XCom. ``.gz`` paths are gzip-compressed.
    :param output_conn_id: Connection for the object storage of ``output_path``.
    :param output_format: ``"jsonl"`` (one customer a line) or ``"json"`` (Stripe's list object).
    :param max_xcom_records: Fail rather than push more than this many customers to XCom.
    :param parallelism: Fetch ``created`` windows with this many threads (work stealing,
        shared pacing). Exports every match: no ``limit`` or cursors; the output is
        newest first within each page of 100, not across pages.
    :param max_requests_per_second: Pacing for this task; overrides the connection. Give
        each of N mapped tasks 1/N of the account's budget.
    """

    template_fields: Sequence[str] = (
        "stripe_conn_id",
        "limit",
        "starting_after",
        "ending_before",
        "customer_email",
        "created",
        "test_clock",
        "expand",
        "stripe_account",
        "page_size",
        "output_path",
        "output_conn_id",
        "output_format",
        "max_xcom_records",
        "parallelism",
        "max_requests_per_second",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"created": "json", "expand": "json"}

    def __new__(cls, *args: Any, **kwargs: Any) -> StripeListCustomersOperator:
        # Airflow copies default_args' ``email`` into ``__init__``'s ``email`` before __init__ runs;
        # only here are the caller's own keyword arguments seen, so only here can an explicit
        # filter be told from an alert address, whatever the two strings are. A mapped task is
        # built from partial()'s arguments, where an explicit filter is already customer_email.
        operator = super().__new__(cls)
        if "email" in kwargs and not kwargs.get("_airflow_from_mapped"):
            object.__setattr__(operator, "_email_is_filter", True)
        return operator

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """As ``BaseOperator.partial``; an explicit ``email`` here or in ``.expand()`` is the filter."""
        from airflow.sdk.definitions.mappedoperator import OperatorPartial

        class _Partial(OperatorPartial):
            __slots__ = ()

            def expand(self, **mapped_kwargs: Any) -> Any:
                return super().expand(**_email_as_filter(mapped_kwargs))

        operator_partial = super().partial(**_email_as_filter(kwargs))
        operator_partial.__class__ = _Partial
        return operator_partial

    def __init__(
        self,
        *,
        stripe_conn_id: str = DEFAULT_CONN_ID,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        email: str | None = None,
        customer_email: str | None = None,
        created: CreatedFilter | None = None,
        test_clock: str | None = None,
        expand: str | Iterable[str] | None = None,
        stripe_account: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        output_format: str = "jsonl",
        max_xcom_records: int = 1000,
        parallelism: int = 1,
        max_requests_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        if self.__dict__.pop("_email_is_filter", False):
            customer_email = _email_as_filter({"email": email, "customer_email": customer_email})[
                "customer_email"
            ]
        elif email is not None:
            kwargs["email"] = email  # default_args' (or a mapped task's) alert address, never a filter
        for name in ("resource", "filters"):
            if name in kwargs:
                raise TypeError(
                    f"StripeListCustomersOperator takes no {name!r}: its filters are its own parameters "
                    "(customer_email, test_clock, created); use StripeListOperator for other resources"
                )
        super().__init__(
            resource=CUSTOMERS,
            created=created,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            expand=expand,
            stripe_conn_id=stripe_conn_id,
            stripe_account=stripe_account,
            page_size=page_size,
            output_path=output_path,
            output_conn_id=output_conn_id,
            output_format=output_format,
            max_xcom_records=max_xcom_records,
            parallelism=parallelism,
            max_requests_per_second=max_requests_per_second,
            **kwargs,
        )
        # Not ``self.email``: BaseOperator sends failure alerts to that address.
        self.customer_email = customer_email
        self.test_clock = test_clock

    def _list_filters(self) -> dict[str, Any]:
        # None is "not set"; an empty or "None" value (a template's) fails: it would widen the list.
        return {"email": self.customer_email, "test_clock": self.test_clock}


class StripeGetCustomerOperator(StripeGetOperator):
    """Retrieve one Stripe customer into XCom or a JSON file in object storage.

    :param stripe_conn_id: Connection of type ``stripe``.
    :param customer_id: The customer's id (``cus_…``).
    :param expand: Paths to expand, e.g. ``["default_source"]``.
    :param stripe_account: Connect account (``acct_…``) to act on; overrides the connection.
    :param output_path: Write the customer as JSON here instead of returning it.
    :param output_conn_id: Connection for the object storage of ``output_path``.
    :param fail_on_deleted: Fail when the customer is deleted; otherwise it is returned
        (``{"id", "object", "deleted": true}``) with a warning.
    """

    template_fields: Sequence[str] = (
        "stripe_conn_id",
        "customer_id",
        "expand",
        "stripe_account",
        "output_path",
        "output_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"expand": "json"}
    operator_extra_links = (StripeCustomerLink(),)

    def __init__(
        self,
        *,
        customer_id: str,
        stripe_conn_id: str = DEFAULT_CONN_ID,
        expand: str | Iterable[str] | None = None,
        stripe_account: str | None = None,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        fail_on_deleted: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            resource=CUSTOMERS,
            object_id=customer_id,
            stripe_conn_id=stripe_conn_id,
            expand=expand,
            stripe_account=stripe_account,
            output_path=output_path,
            output_conn_id=output_conn_id,
            fail_on_deleted=fail_on_deleted,
            **kwargs,
        )
        self.customer_id = customer_id

    def _object_id(self) -> Any:
        return self.customer_id


class StripeCustomerChangesOperator(_StripeOperator):
    """The customers created, updated or deleted in a window, from Stripe's events, into XCom or a file.

    One record per changed customer: its latest state in the window, or
    ``{"id", "object": "customer", "deleted": true}``, each with ``_stripe_event``
    (the deciding event's ``id``, ``type``, ``created``, ``api_version`` and
    ``refetched``). Upsert the records and apply the deletes, window after
    window, and a table stays equal to Stripe (see
    :meth:`~airflow_provider_stripe.hooks.stripe.StripeHook.iter_changes`).

    :param stripe_conn_id: Connection of type ``stripe``.
    :param created: The window, half-open: ``{"gte": "{{ data_interval_start }}", "lt":
        "{{ data_interval_end }}"}``, or only ``gte`` to read up to now. It must start
        within Stripe's 30 days of events, or the task fails before any request (run a
        full export instead).
    :param settle_seconds: Keep the window's end this far behind the present (default
        60): events of the last moments may not be listed yet. An end inside the margin
        waits for it to pass; without an end, the window ends that long ago.
    :param refetch: Retrieve each changed customer from ``/v1/customers/{id}``: records
        then have the connection's API version and ``expand``, where event payloads
        have the API version of their time and nothing expanded. One request each.
    :param expand: Paths to expand, e.g. ``["default_source"]`` (needs ``refetch``).
    :param stripe_account: Connect account (``acct_…``) to act on; overrides the connection.
    :param parallelism: Threads for the events' ``created`` windows and for refetches.
    :param page_size: Events per request (1-100).
    :param output_path: Where to write (``str`` or ``ObjectStoragePath``); without it
        the result goes to XCom. ``.gz`` paths are gzip-compressed.
    :param output_conn_id: Connection for the object storage of ``output_path``.
    :param output_format: ``"jsonl"`` (one record a line) or ``"json"`` (a list object).
    :param max_xcom_records: Fail rather than push more than this many records to XCom.
    :param max_requests_per_second: Pacing for this task; overrides the connection.

    Returns what the list operator returns, plus ``upserts``, ``deletes`` and the
    ``window`` read (``{"gte": start, "lt": end}``, Unix seconds): start the next
    window at its ``lt`` and nothing is skipped.
    """

    template_fields: Sequence[str] = (
        "stripe_conn_id",
        "created",
        "refetch",
        "expand",
        "stripe_account",
        "parallelism",
        "page_size",
        "output_path",
        "output_conn_id",
        "output_format",
        "max_xcom_records",
        "max_requests_per_second",
        "settle_seconds",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"created": "json", "expand": "json"}
    operator_extra_links = (StripeDashboardLink(),)

    def __init__(
        self,
        *,
        created: CreatedFilter,
        stripe_conn_id: str = DEFAULT_CONN_ID,
        refetch: bool = False,
        expand: str | Iterable[str] | None = None,
        stripe_account: str | None = None,
        parallelism: int = 1,
        page_size: int = MAX_PAGE_SIZE,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        output_format: str = "jsonl",
        max_xcom_records: int = 1000,
        max_requests_per_second: float | None = None,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.created = created
        self.settle_seconds = settle_seconds
        self.stripe_conn_id = stripe_conn_id
        self.refetch = refetch
        self.expand = expand
        self.stripe_account = stripe_account
        self.parallelism = parallelism
        self.page_size = page_size
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.output_format = output_format
        self.max_xcom_records = max_xcom_records
        self.max_requests_per_second = max_requests_per_second

    def execute(self, context: Context) -> dict[str, Any]:
        max_xcom_records = check_int(self.max_xcom_records, "max_xcom_records", minimum=0)
        refetch = check_bool(self.refetch, "refetch")
        target = self._output(self.output_path, self.output_conn_id, self.output_format)
        hook = self._hook(get_resource(CUSTOMERS), max_requests_per_second=self.max_requests_per_second)
        mode, account = self._lineage_source or ("unknown", None)
        self.stripe_dashboard_url = dashboard_url("events", mode=mode, stripe_account=account)
        with hook.iter_changes(
            CUSTOMERS,
            created=self.created,
            refetch=refetch,
            expand=self.expand or None,
            page_size=self.page_size,
            parallelism=self.parallelism,
            settle_seconds=self.settle_seconds,
        ) as changes:
            start, end = changes.window
            return self._deliver(
                context,
                changes,
                target,
                output_format=self.output_format,
                max_xcom_records=max_xcom_records,
                url=EVENTS_URL,
                extra=lambda: {
                    "upserts": changes.upserts,
                    "deletes": changes.deletes,
                    "window": {"gte": start, "lt": end},
                },
            )
