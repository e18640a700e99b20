"""Operators for any registered Stripe object: list, get and search, into XCom or object storage.

Each takes a ``resource`` from the registry (:mod:`airflow_provider_stripe.resources`):
``"invoices"``, ``"subscriptions"``, ``"checkout/sessions"`` …. The customers
operators (:mod:`.customers`) are thin specialisations of these.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_stripe.api.params import (
    DEFAULT_CONN_ID,
    MAX_PAGE_SIZE,
    CreatedFilter,
    check_bool,
    check_filters,
    check_id,
    check_int,
    check_optional_int,
    check_search_query,
)
from airflow_provider_stripe.api.registry import Resource, get_resource
from airflow_provider_stripe.exceptions import StripeFailError, StripeParameterError
from airflow_provider_stripe.links import StripeDashboardLink, resource_dashboard_url

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_stripe.api.changes import ChangeIterator
    from airflow_provider_stripe.api.pagination import ListIterator
    from airflow_provider_stripe.hooks.stripe import StripeHook

STRIPE_COLOR = "#635BFF"
#: The key that says which Connect account a record was read from.
ACCOUNT_KEY = "_stripe_account"
#: The key that tells a child collection's records which parent they were listed under.
PARENT_KEY = "_stripe_parent"


def _with_account(extra: Callable[[], dict[str, Any]], account: str) -> Callable[[], dict[str, Any]]:
    return lambda: {**extra(), "stripe_account": account}


class _StripeOperator(BaseOperator):
    """What every Stripe operator shares: the look, the hook built in ``execute``, and delivery."""

    ui_color = STRIPE_COLOR
    ui_fgcolor = "#FFFFFF"
    stripe_conn_id: str
    stripe_account: str | None
    #: What the last run read (key mode, Connect account) and wrote, for OpenLineage.
    _lineage_source: tuple[str, str | None] | None = None
    _lineage_target: ObjectStoragePath | None = None
    #: The registry name of what the last run read (``customers``, ``invoices`` …), for lineage.
    _lineage_resource: str = "customers"
    #: The parent the last run listed under (a child collection's), tagged on its records.
    _parent: str | None = None

    def _hook(self, resource: Resource, **settings: Any) -> StripeHook:
        """The hook for this run, connected; see :meth:`_connected`."""
        return self._connected(self._new_hook(**settings), resource)

    def _new_hook(self, **settings: Any) -> StripeHook:
        """The hook for this run, not connected yet (its ``__init__`` does no I/O)."""
        # Imported here: DAG files import this module, and requests is a cost only tasks should pay.
        from airflow_provider_stripe.hooks.stripe import StripeHook

        return StripeHook(self.stripe_conn_id, stripe_account=self.stripe_account or None, **settings)

    def _connected(self, hook: StripeHook, resource: Resource) -> StripeHook:
        """``hook`` with its client built; records what it reads, for lineage and the Dashboard link."""
        client = hook.get_conn()
        self._lineage_source = (client.mode, client.stripe_account)
        self._lineage_resource = resource.name
        self.stripe_dashboard_url = resource_dashboard_url(
            resource, mode=client.mode, stripe_account=client.stripe_account
        )
        return hook

    def _written(
        self, context: Context, target: ObjectStoragePath, summary: dict[str, Any]
    ) -> dict[str, Any]:
        """Remember the output for lineage, and put the summary on every Asset outlet's event."""
        from airflow.sdk import Asset

        self._lineage_target = target
        for outlet in self.outlets:
            if isinstance(outlet, Asset):
                context["outlet_events"][outlet].extra.update(summary)
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Input: the objects read (``stripe://<mode>/<account>``, named by resource); output: the file."""
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        mode, account = self._lineage_source or ("unknown", None)
        namespace = f"stripe://{mode}/{account or 'platform'}"
        inputs = [Dataset(namespace=namespace, name=self._lineage_resource)]
        outputs = []
        if (target := self._lineage_target) is not None:
            bucket = f"{target.bucket}/" if target.bucket else ""
            outputs.append(Dataset(namespace=target.namespace, name=target.path.removeprefix(bucket)))
        return OperatorLineage(inputs=inputs, outputs=outputs)

    def _deliver(
        self,
        context: Context,
        records: ListIterator | ChangeIterator,
        target: ObjectStoragePath | None,
        *,
        output_format: str,
        max_xcom_records: int,
        url: str,
        extra: Callable[[], dict[str, Any]] = dict,
    ) -> dict[str, Any]:
        """Hand ``records`` downstream: a Stripe list object in XCom, or a file and its summary.

        XCom takes at most ``max_xcom_records`` records (it lives in the metadata
        database); more fail the task before anything is pushed. ``extra()`` adds
        keys (read once the records are exhausted) to what is returned. Records
        read through a Connect account carry it as ``_stripe_account``.
        """
        account = self._account
        tagged: Iterable[dict[str, Any]] = map(self._tagged, records)
        if account is not None:
            extra = _with_account(extra, account)
        if target is None:
            data = list(itertools.islice(tagged, max_xcom_records + 1))
            if len(data) > max_xcom_records:
                raise StripeFailError(
                    f"More than max_xcom_records={max_xcom_records} {records.collection} match, too many "
                    "for XCom (it lives in the metadata database). Set output_path to write them to "
                    "object storage, narrow the request (limit, created), or raise max_xcom_records."
                )
            self._log_summary(records, "XCom")
            kind = (
                "search_result" if getattr(records, "expect", None) == "search" else "list"
            )  # Stripe's names
            return {"object": kind, "url": url, "has_more": records.has_more, "data": data, **extra()}

        from airflow_provider_stripe.utils.output import output_summary, write_records

        written = write_records(
            target, tagged, output_format=output_format, has_more=lambda: records.has_more, list_url=url
        )
        self._log_summary(records, str(target))
        summary = output_summary(
            target, records=written, output_format=output_format, has_more=records.has_more
        )
        return self._written(context, target, {**summary, **extra()})

    @property
    def _account(self) -> str | None:
        """The Connect account the last hook acted on (the operator's or the connection's), if any."""
        return self._lineage_source[1] if self._lineage_source else None

    def _tagged(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` with the Connect account it was read through (``_stripe_account``) and the
        parent it was listed under (``_stripe_parent``), where there is one."""
        account, parent = self._account, self._parent
        if account is None and parent is None:
            return record
        tags = {ACCOUNT_KEY: account} if account is not None else {}
        if parent is not None:
            tags[PARENT_KEY] = parent
        return {**record, **tags}

    @staticmethod
    def _fetch_limit(limit: int | None, max_xcom_records: int, *, to_xcom: bool) -> int | None:
        """How many records to ask for: to XCom, one more than it may hold, to tell "too many"."""
        if not to_xcom:
            return limit
        return max_xcom_records + 1 if limit is None else min(limit, max_xcom_records + 1)

    def _log_summary(self, records: ListIterator | ChangeIterator, destination: str) -> None:
        more = "; more records match beyond limit" if records.has_more else ""
        self.log.info("Stripe to %s: %s%s", destination, records.summary(), more)

    def _output(
        self, output_path: str | ObjectStoragePath | None, output_conn_id: str | None, output_format: str
    ) -> ObjectStoragePath | None:
        from airflow_provider_stripe.utils.output import check_destination, check_format, resolve_path

        check_format(output_format)
        return check_destination(resolve_path(output_path, output_conn_id)) if output_path else None


class StripeListOperator(_StripeOperator):
    """List any registered Stripe object, newest first, into XCom or a file in object storage.

    :param resource: What to list, by its name in the registry: ``"invoices"``,
        ``"checkout/sessions"``, ``"customer_balance_transactions"`` … (see
        :data:`airflow_provider_stripe.resources.RESOURCES`).
    :param filters: The list's own filters, e.g. ``{"customer": "cus_…", "status": "paid"}``;
        one the resource does not take fails before any request. Defaults that would
        hide data are filled in (subscriptions: ``status="all"``). A filter set to
        ``None`` is not sent (for ``status``: Stripe's own default); one that is empty,
        blank or ``"None"`` (what a template renders for a missing or None param)
        fails before any request, since it would widen or empty the export.
    :param created: Unix seconds, datetime or ISO-8601 string, or a range dict with
        ``gt``/``gte``/``lt``/``lte`` (for lists that take it).
    :param limit: At most this many objects in total (across pages); ``None`` means all.
    :param starting_after: Id cursor: only objects after (older than) it.
    :param ending_before: Id cursor: only objects before (newer than) it; listed oldest first.
    :param expand: Paths to expand, e.g. ``["data.customer"]``.
    :param complete_lists: Page every embedded list cut short (an invoice's ``lines``
        beyond 10) to its end before the record is written (default True).
    :param stripe_account: Connect account (``acct_…``) to act on; overrides the connection.
        Records then carry it as ``_stripe_account``, and the summary as ``stripe_account``.
    :param parent_id: A child collection's parent (the customer of
        ``customer_balance_transactions``, the account of ``persons``); map over it to
        export the children of many parents. Records carry it as ``_stripe_parent``.
    :param page_size: Objects per request (1-100).
    :param output_path: Where to write (``str`` or ``ObjectStoragePath``); without it
        the result goes to XCom. ``.gz`` paths are gzip-compressed.
    :param output_conn_id: Connection for the object storage of ``output_path``.
    :param output_format: ``"jsonl"`` (one object a line) or ``"json"`` (Stripe's list object).
    :param max_xcom_records: Fail rather than push more than this many objects to XCom.
    :param parallelism: Fetch ``created`` windows with this many threads (work stealing,
        shared pacing). Exports every match: no ``limit`` or cursors; the output is
        newest first within each page, not across pages.
    :param max_requests_per_second: Pacing for this task; overrides the connection. Give
        each of N concurrent tasks (a pool of N slots) 1/N of the account's budget.
    """

    template_fields: Sequence[str] = (
        "stripe_conn_id",
        "resource",
        "filters",
        "created",
        "limit",
        "starting_after",
        "ending_before",
        "expand",
        "complete_lists",
        "stripe_account",
        "parent_id",
        "page_size",
        "output_path",
        "output_conn_id",
        "output_format",
        "max_xcom_records",
        "parallelism",
        "max_requests_per_second",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        "filters": "json",
        "created": "json",
        "expand": "json",
    }
    operator_extra_links = (StripeDashboardLink(),)

    def __init__(
        self,
        *,
        resource: str,
        filters: Mapping[str, Any] | None = None,
        created: CreatedFilter | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
        stripe_conn_id: str = DEFAULT_CONN_ID,
        stripe_account: str | None = None,
        parent_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        output_format: str = "jsonl",
        max_xcom_records: int = 1000,
        parallelism: int = 1,
        max_requests_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self.filters = filters
        self.created = created
        self.limit = limit
        self.starting_after = starting_after
        self.ending_before = ending_before
        self.expand = expand
        self.complete_lists = complete_lists
        self.stripe_conn_id = stripe_conn_id
        self.stripe_account = stripe_account
        self.parent_id = parent_id
        self.page_size = page_size
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.output_format = output_format
        self.max_xcom_records = max_xcom_records
        self.parallelism = parallelism
        self.max_requests_per_second = max_requests_per_second

    def _list_filters(self) -> Any:
        """The filters to send (the customers operator builds them from its typed parameters)."""
        return self.filters

    def execute(self, context: Context) -> dict[str, Any]:
        spec = get_resource(self.resource)
        limit = check_optional_int(self.limit, "limit", minimum=1)
        max_xcom_records = check_int(self.max_xcom_records, "max_xcom_records", minimum=0)
        parallel = check_int(self.parallelism, "parallelism", minimum=1) > 1
        if parallel and limit is not None:
            raise StripeParameterError(
                "limit", "cannot be combined with parallelism: a parallel run exports every match"
            )
        fetch = self._fetch_limit(limit, max_xcom_records, to_xcom=not self.output_path and not parallel)
        hook = self._new_hook(max_requests_per_second=self.max_requests_per_second)
        # iter_objects checks every argument, once, before it reads the Connection; no request is
        # sent before the first record is read, after the output is checked too.
        with hook.iter_objects(
            spec.name,
            parent_id=self.parent_id or None,
            page_size=self.page_size,
            max_records=fetch,
            starting_after=self.starting_after or None,
            ending_before=self.ending_before or None,
            created=self.created,
            expand=self.expand or None,
            parallelism=self.parallelism,
            complete_lists=self.complete_lists,
            **check_filters(self._list_filters()),
        ) as records:
            target = self._output(self.output_path, self.output_conn_id, self.output_format)
            self._connected(hook, spec)
            self._parent = self.parent_id or None
            return self._deliver(
                context,
                records,
                target,
                output_format=self.output_format,
                max_xcom_records=max_xcom_records,
                url=f"/v1/{records.collection}",
                extra=(lambda: {"parent_id": self._parent}) if self._parent else dict,
            )


class StripeGetOperator(_StripeOperator):
    """Retrieve one object of any registered resource into XCom or a JSON file in object storage.

    :param resource: Its registry name: ``"invoices"``, ``"charges"``, ``"balance"`` ….
    :param object_id: The object's id (``in_…``, ``ch_…``); none for a singleton (``"balance"``).
    :param parent_id: A child's parent, where its path names one (the account of ``persons``).
    :param expand: Paths to expand, e.g. ``["customer"]``.
    :param complete_lists: Page embedded lists cut short to their end (default True).
    :param stripe_account: Connect account (``acct_…``) to act on; overrides the connection.
    :param output_path: Write the object as JSON here instead of returning it.
    :param output_conn_id: Connection for the object storage of ``output_path``.
    :param fail_on_deleted: Fail when Stripe answers that the object is deleted
        (``{"id", "object", "deleted": true}``); otherwise it is returned with a warning.
    """

    template_fields: Sequence[str] = (
        "stripe_conn_id",
        "resource",
        "object_id",
        "parent_id",
        "expand",
        "complete_lists",
        "stripe_account",
        "output_path",
        "output_conn_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"expand": "json"}
    operator_extra_links = (StripeDashboardLink(),)

    def __init__(
        self,
        *,
        resource: str,
        object_id: str | None = None,
        parent_id: str | None = None,
        stripe_conn_id: str = DEFAULT_CONN_ID,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
        stripe_account: str | None = None,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        fail_on_deleted: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self.object_id = object_id
        self.parent_id = parent_id
        self.stripe_conn_id = stripe_conn_id
        self.expand = expand
        self.complete_lists = complete_lists
        self.stripe_account = stripe_account
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.fail_on_deleted = fail_on_deleted

    def _object_id(self) -> Any:
        """The id to retrieve (the customers operator takes it as ``customer_id``)."""
        return self.object_id

    def execute(self, context: Context) -> dict[str, Any]:
        spec = get_resource(self.resource)
        given = self._object_id()
        # A singleton takes none: the hook refuses one, rather than dropping it unsaid.
        object_id = (given or None) if spec.singleton else check_id(given, spec.id_param)
        fail_on_deleted = check_bool(self.fail_on_deleted, "fail_on_deleted")
        target = self._output(self.output_path, self.output_conn_id, "json")
        hook = self._hook(spec)
        mode, account = self._lineage_source or ("unknown", None)
        ids = (object_id,) if object_id else ()
        self.stripe_dashboard_url = resource_dashboard_url(spec, *ids, mode=mode, stripe_account=account)
        self._parent = self.parent_id or None
        record = hook.get_object(
            spec.name,
            object_id,
            parent_id=self._parent,
            expand=self.expand or None,
            complete_lists=self.complete_lists,
        )
        what = f"Stripe {spec.object}" + (f" {object_id}" if object_id else "")
        if record.get("deleted"):
            if fail_on_deleted:
                deleted = f"Stripe {spec.object} {object_id!r} is deleted"
                raise StripeFailError(f"{deleted} (fail_on_deleted=True).")
            self.log.warning("%s is deleted; returning Stripe's deleted object.", what)
        record = self._tagged(record)
        if target is None:
            return record

        from airflow_provider_stripe.utils.output import output_summary, write_object

        write_object(target, record)
        self.log.info("Wrote %s to %s", what, target)
        summary = output_summary(target, records=1, output_format="json", has_more=False)
        if account is not None:
            summary["stripe_account"] = account
        return self._written(context, target, summary)


class StripeSearchOperator(_StripeOperator):
    """Search a resource with Stripe's query language, into XCom or a file in object storage.

    Only customers, charges, invoices, payment intents, prices, products and
    subscriptions can be searched. Stripe's search index lags writes by about a
    minute and is not available in every region; for complete or incremental
    exports use :class:`StripeListOperator` with ``created``.

    :param resource: ``"customers"``, ``"charges"``, ``"invoices"``, ``"payment_intents"``,
        ``"prices"``, ``"products"`` or ``"subscriptions"``.
    :param query: e.g. ``"status:'paid' AND metadata['order_id']:'6735'"``.
    :param limit: At most this many results; ``None`` means all.
    :param expand: Paths to expand, e.g. ``["data.customer"]``.
    :param complete_lists: Page embedded lists cut short to their end (default True).
    :param stripe_account: Connect account (``acct_…``) to act on; overrides the connection.
    :param page_size: Results per request (1-100).
    :param output_path: Where to write; without it the result goes to XCom.
    :param output_conn_id: Connection for the object storage of ``output_path``.
    :param output_format: ``"jsonl"`` or ``"json"``.
    :param max_xcom_records: Fail rather than push more than this many results to XCom.
    :param max_requests_per_second: Pacing for this task; overrides the connection (search
        is held to Stripe's 20 requests per second in any case).
    """

    template_fields: Sequence[str] = (
        "stripe_conn_id",
        "resource",
        "query",
        "limit",
        "expand",
        "complete_lists",
        "stripe_account",
        "page_size",
        "output_path",
        "output_conn_id",
        "output_format",
        "max_xcom_records",
        "max_requests_per_second",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"expand": "json"}
    operator_extra_links = (StripeDashboardLink(),)

    def __init__(
        self,
        *,
        resource: str,
        query: str,
        limit: int | None = None,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
        stripe_conn_id: str = DEFAULT_CONN_ID,
        stripe_account: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        output_path: str | ObjectStoragePath | None = None,
        output_conn_id: str | None = None,
        output_format: str = "jsonl",
        max_xcom_records: int = 1000,
        max_requests_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        self.query = query
        self.limit = limit
        self.expand = expand
        self.complete_lists = complete_lists
        self.stripe_conn_id = stripe_conn_id
        self.stripe_account = stripe_account
        self.page_size = page_size
        self.output_path = output_path
        self.output_conn_id = output_conn_id
        self.output_format = output_format
        self.max_xcom_records = max_xcom_records
        self.max_requests_per_second = max_requests_per_second

    def execute(self, context: Context) -> dict[str, Any]:
        spec = get_resource(self.resource)
        query = check_search_query(self.query)
        limit = check_optional_int(self.limit, "limit", minimum=1)
        max_xcom_records = check_int(self.max_xcom_records, "max_xcom_records", minimum=0)
        target = self._output(self.output_path, self.output_conn_id, self.output_format)
        fetch = self._fetch_limit(limit, max_xcom_records, to_xcom=target is None)
        hook = self._hook(spec, max_requests_per_second=self.max_requests_per_second)
        with hook.search(
            spec.name,
            query,
            max_records=fetch,
            page_size=self.page_size,
            expand=self.expand or None,
            complete_lists=self.complete_lists,
        ) as results:
            return self._deliver(
                context,
                results,
                target,
                output_format=self.output_format,
                max_xcom_records=max_xcom_records,
                url=f"{spec.list_url}/search",
            )
