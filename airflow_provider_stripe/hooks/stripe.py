"""``StripeHook``: the Stripe client behind an Airflow Connection of type ``stripe``."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from functools import cached_property
from typing import Any

import pendulum
from airflow import __version__ as airflow_version
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_stripe.api.changes import ChangeIterator
from airflow_provider_stripe.api.client import DEFAULT_TIMEOUT, StripeClient
from airflow_provider_stripe.api.embedded import listed_paths
from airflow_provider_stripe.api.pagination import ListIterator, check_listing
from airflow_provider_stripe.api.params import (
    DEFAULT_CONN_ID,
    DEFAULT_SETTLE_SECONDS,
    MAX_PAGE_SIZE,
    MAX_PARALLELISM,
    MAX_SETTLE_SECONDS,
    NO_UPPER_BOUND,
    CreatedFilter,
    check_bool,
    check_event_window,
    check_id,
    check_int,
    check_search_query,
    check_setting,
    child_route,
    created_bounds,
    event_list_params,
    event_type_filters,
    list_params,
    normalize_created,
    normalize_expand,
    object_list_params,
)
from airflow_provider_stripe.api.registry import RESOURCES, get_resource
from airflow_provider_stripe.api.retries import DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT
from airflow_provider_stripe.api.transport import base_url_from
from airflow_provider_stripe.exceptions import StripeConfigurationError, StripeParameterError

CUSTOMERS = "customers"
EVENTS = "events"
#: Seconds a connection test may wait for Stripe: a UI button must answer promptly.
TEST_TIMEOUT = 10.0
#: The longest a change window ending in the settle margin waits for it to pass.
MAX_SETTLE_WAIT = 600.0


class StripeHook(BaseHook):
    """Talk to the Stripe API with the secret key of an Airflow Connection.

    The key is the Connection's password; the optional host is the API base URL.
    Extras ``stripe_account``, ``stripe_version``, ``max_retries``,
    ``max_retry_wait``, ``timeout`` and ``max_requests_per_second`` tune the
    client; keyword arguments given here take precedence over them.
    ``__init__`` does no I/O: the Connection is read on first use.
    """

    conn_name_attr = "stripe_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "stripe"
    hook_name = "Stripe"

    def __init__(
        self,
        stripe_conn_id: str = default_conn_name,
        *,
        stripe_account: str | None = None,
        stripe_version: str | None = None,
        max_retries: int | None = None,
        max_retry_wait: float | None = None,
        timeout: float | None = None,
        max_requests_per_second: float | None = None,
    ) -> None:
        super().__init__()
        self.stripe_conn_id = stripe_conn_id
        self.overrides: dict[str, Any] = {
            "stripe_account": stripe_account,
            "stripe_version": stripe_version,
            "max_retries": max_retries,
            "max_retry_wait": max_retry_wait,
            "timeout": timeout,
            "max_requests_per_second": max_requests_per_second,
        }

    # Airflow 3.1 builds the connection form from these two methods; 3.2 and later read
    # ``ui-field-behaviour`` and ``conn-fields`` from get_provider_info() and never call them.
    # Both are made from get_provider_info(), so the form is the same on every version.
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The form's standard fields (hidden, relabelled, placeholders), for Airflow 3.1."""
        behaviour = _connection_type()["ui-field-behaviour"]
        return {key.replace("-", "_"): value for key, value in behaviour.items()}

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The form's extra fields, for Airflow 3.1 (its API server provides these imports)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import Optional

        # 3.1 renders only these field types (a FloatField is dropped from its form) and
        # ignores validators besides Optional: fractions come as text, the client checks them.
        kinds = {"integer": IntegerField, "number": StringField, "string": StringField}
        widgets = {}
        for name, field in _connection_type()["conn-fields"].items():
            schema = field["schema"]
            widgets[name] = kinds[schema["type"][0]](
                lazy_gettext(field["label"]),
                validators=[Optional()],
                description=field.get("description", ""),
                default=schema.get("default"),
                widget=BS3TextFieldWidget(),
            )
        return widgets

    def __repr__(self) -> str:
        return f"StripeHook(stripe_conn_id={self.stripe_conn_id!r})"

    def _setting(self, extras: dict[str, Any], name: str, default: Any, cast: type) -> Any:
        value = self.overrides[name]
        if value is None or value == "":
            value = extras.get(name)
        if value is None or value == "":
            return default
        if cast is str:
            return str(value)
        if cast is int and isinstance(value, float) and value.is_integer():
            return int(value)  # 5.0 from a form that keeps numbers as floats
        return value  # the client checks numbers as they are: 5.9 retries or timeout=true are refused

    @cached_property
    def client(self) -> StripeClient:
        """The client built from the Connection (once per hook)."""
        conn = self.get_connection(self.stripe_conn_id)
        api_key = (conn.password or "").strip()
        if not api_key:
            raise StripeConfigurationError(
                f"Connection {self.stripe_conn_id!r} has no Stripe secret key: "
                "put the key (sk_... or rk_...) in the connection's password field."
            )
        mask_secret(api_key)
        extras = conn.extra_dejson
        try:
            return StripeClient(
                api_key,
                base_url=base_url_from(conn.host, conn.port),
                stripe_account=self._setting(extras, "stripe_account", None, str),
                stripe_version=self._setting(extras, "stripe_version", None, str),
                max_retries=self._setting(extras, "max_retries", DEFAULT_MAX_RETRIES, int),
                max_retry_wait=self._setting(extras, "max_retry_wait", DEFAULT_MAX_RETRY_WAIT, float),
                timeout=self._setting(extras, "timeout", DEFAULT_TIMEOUT, float),
                max_requests_per_second=self._setting(extras, "max_requests_per_second", None, float),
                platform=f"Apache Airflow {airflow_version}",
            )
        except (StripeConfigurationError, StripeParameterError) as exc:
            # Name where the bad value came from: this hook's (the task's) settings, or the Connection.
            param = getattr(exc, "param", None)
            if param in self.overrides and self.overrides[param] not in (None, ""):
                raise StripeConfigurationError(f"{exc} (a task or hook setting)") from None
            raise StripeConfigurationError(f"{self._connection_label}: {exc}") from None

    def get_conn(self) -> StripeClient:
        """Return the cached :class:`~airflow_provider_stripe.api.client.StripeClient`."""
        return self.client

    def get_object(
        self,
        resource: str,
        object_id: str | None = None,
        *,
        parent_id: str | None = None,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
    ) -> dict[str, Any]:
        """Retrieve one object of a registered ``resource`` (``"invoices"``, ``"checkout/sessions"`` …).

        A singleton (``"balance"``) takes no ``object_id``; a child of a parent in
        its path (``"persons"`` of an account) takes the parent's id as ``parent_id``.
        Embedded lists cut short (an invoice's ``lines`` beyond 10) are paged to
        their end unless ``complete_lists`` is False.
        """
        spec = get_resource(resource)
        complete = check_bool(complete_lists, "complete_lists")
        params = list_params(expand=expand)
        path, _ = child_route(spec, parent_id, listing=False)  # a get takes no parent filter
        if spec.singleton:
            if object_id is not None:
                raise StripeParameterError(
                    "object_id", f"{spec.name} is one object with no id: get_object({spec.name!r}) takes none"
                )
            record = self.client.request(path, params, expect="singleton")
        else:
            record = self.client.retrieve(
                path, check_id(object_id, spec.id_param), params, id_param=spec.id_param
            )
        if complete:
            self.client.complete_lists([record], params.get("expand"))
        return record

    def list_objects(
        self,
        resource: str,
        *,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        created: CreatedFilter | None = None,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
        parent_id: str | None = None,
        **filters: Any,
    ) -> dict[str, Any]:
        """One page of a ``resource``'s list: Stripe's list object (``data``, ``has_more``, ``url`` …).

        ``filters`` are the list's own (``customer=``, ``status=`` …; see the
        registry in :mod:`airflow_provider_stripe.resources`): one it does not
        take fails before any request. A child collection (``"persons"``) takes its
        parent's id as ``parent_id``.
        """
        spec = get_resource(resource)
        complete = check_bool(complete_lists, "complete_lists")
        path, parent = child_route(spec, parent_id, listing=True)
        params = object_list_params(
            spec,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            expand=expand,
            filters=filters,
        )
        page = self.client.request(path, {**params, **parent}, expect="list")
        if complete:
            self.client.complete_lists(page["data"], listed_paths(params))
        return page

    def iter_objects(
        self,
        resource: str,
        *,
        created: CreatedFilter | None = None,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
        parallelism: int = 1,
        starting_after: str | None = None,
        ending_before: str | None = None,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
        parent_id: str | None = None,
        **filters: Any,
    ) -> ListIterator:
        """Every matching object of a ``resource``, lazily, page by page (memory: one page).

        Validates everything before the first request (``filters`` as in
        :meth:`list_objects`). With ``ending_before`` alone it pages towards the
        newest. ``parallelism`` > 1 splits the ``created`` range over that many
        workers sharing the hook's pacing (only for lists that take ``created``; no
        cursors or ``max_records`` then; order is per page, see
        :class:`~airflow_provider_stripe.api.parallel.ParallelListIterator`). Embedded
        lists are completed unless ``complete_lists`` is False. A child collection
        (``"customer_balance_transactions"``) takes its parent's id as ``parent_id``.
        The iterator's ``has_more``, ``pages`` and ``records`` describe the run once it
        is exhausted.
        """
        spec = get_resource(resource)
        complete = check_bool(complete_lists, "complete_lists")
        path, parent = child_route(spec, parent_id, listing=True)
        params = object_list_params(
            spec,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            expand=expand,
            filters=filters,
        )
        if spec.retention_days is not None:  # events: a window Stripe no longer covers is refused
            check_event_window(params.get("created"), time.time(), required=False)
        if not spec.created and check_int(parallelism, "parallelism", minimum=1) > 1:
            raise StripeParameterError(
                "parallelism", f"splits created windows, and the {spec.name} list takes no created filter"
            )
        listing = check_listing(
            path,
            {**params, **parent},
            page_size=page_size,
            max_records=max_records,
            parallelism=parallelism,
            complete_lists=complete,
            created_field=spec.created_field if spec.newest_first else "",  # "": no order to check
        )
        return self.client.iterate_listing(listing)  # the Connection is read only now

    def search(
        self,
        resource: str,
        query: str,
        *,
        max_records: int | None = None,
        page_size: int = MAX_PAGE_SIZE,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
    ) -> ListIterator:
        """Every object of a ``resource`` matching ``query`` in Stripe's search language, lazily.

        ``query`` is e.g. ``"status:'paid' AND metadata['order']:'6735'"``. Only
        customers, charges, invoices, payment intents, prices, products and
        subscriptions can be searched. Search is paced by Stripe's own limit of 20
        requests per second as well; its index lags writes by about a minute, and it
        is not available in every region (India): for complete exports use
        :meth:`iter_objects`.
        """
        spec = get_resource(resource)
        if not spec.searchable:
            searchable = ", ".join(sorted(name for name, row in RESOURCES.items() if row.searchable))
            raise StripeParameterError("resource", f"{spec.name} cannot be searched; these can: {searchable}")
        params = {"query": check_search_query(query), **list_params(expand=expand)}
        return self.client.search(
            spec.path,
            params,
            page_size=page_size,
            max_records=max_records,
            complete_lists=check_bool(complete_lists, "complete_lists"),
        )

    def get_customer(
        self,
        customer_id: str,
        *,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
    ) -> dict[str, Any]:
        """Retrieve one customer (a deleted one comes back as ``{"id", "object", "deleted": true}``)."""
        return self.get_object(CUSTOMERS, customer_id, expand=expand, complete_lists=complete_lists)

    def list_customers(
        self,
        *,
        limit: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        email: str | None = None,
        created: CreatedFilter | None = None,
        test_clock: str | None = None,
        expand: str | Iterable[str] | None = None,
        complete_lists: bool = True,
    ) -> dict[str, Any]:
        """One page of customers: Stripe's list object (``object``, ``data``, ``has_more``, ``url``)."""
        return self.list_objects(
            CUSTOMERS,
            limit=limit,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            expand=expand,
            complete_lists=complete_lists,
            email=email,
            test_clock=test_clock,
        )

    def iter_customers(
        self,
        *,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        email: str | None = None,
        created: CreatedFilter | None = None,
        test_clock: str | None = None,
        expand: str | Iterable[str] | None = None,
        parallelism: int = 1,
        complete_lists: bool = True,
    ) -> ListIterator:
        """Every matching customer, lazily; :meth:`iter_objects` for ``"customers"``."""
        return self.iter_objects(
            CUSTOMERS,
            page_size=page_size,
            max_records=max_records,
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            expand=expand,
            parallelism=parallelism,
            complete_lists=complete_lists,
            email=email,
            test_clock=test_clock,
        )

    def iter_events(
        self,
        types: str | Iterable[str] | None = None,
        *,
        created: CreatedFilter | None = None,
        delivery_success: bool | None = None,
        starting_after: str | None = None,
        ending_before: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        max_records: int | None = None,
        parallelism: int = 1,
    ) -> ListIterator:
        """Stripe's events (``/v1/events``), lazily, newest first; as :meth:`iter_customers` pages.

        ``types`` is one name or pattern (``"customer.*"``: sent as ``type``) or a
        list of exact names (sent as ``types[]``; more than 20 run as several
        listings, one after the other). Stripe keeps events 30 days: a ``created``
        window that starts earlier fails before any request instead of silently
        returning less.
        """
        filters = event_type_filters(types)
        params = event_list_params(
            starting_after=starting_after,
            ending_before=ending_before,
            created=created,
            delivery_success=delivery_success,
        )
        check_event_window(params.get("created"), time.time(), required=False)
        return self.client.iterate_each(
            EVENTS,
            [{**params, **names} for names in filters],
            page_size=page_size,
            max_records=max_records,
            parallelism=parallelism,
        )

    def iter_changes(
        self,
        resource: str,
        *,
        created: CreatedFilter,
        refetch: bool = False,
        expand: str | Iterable[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        parallelism: int = 1,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> ChangeIterator:
        """One record per ``resource`` object (e.g. ``"customers"``) changed in the window ``created``.

        Each is the object's latest state in the window, or ``{"id", "object",
        "deleted": true}``, with ``_stripe_event`` saying which event decided it; see
        :class:`~airflow_provider_stripe.api.changes.ChangeIterator` for the order and
        ties. The window is half-open and must start within Stripe's 30 days of
        events (else it fails before any request: run a full export instead).

        Events of the last moments may not be listed yet, so the window never
        reaches into the last ``settle_seconds``: without an upper bound it ends
        that long ago (possibly empty, when it starts later); an upper bound inside
        that margin waits until it has passed, up to 10 minutes (a bound further
        ahead fails). The iterator's ``window`` says what was read; start the next
        window at its end, and nothing is skipped or read twice.

        ``refetch`` retrieves each changed object from its own endpoint (paced,
        ``parallelism`` at once), so records carry the connection's API version and
        ``expand``: event payloads are rendered in the API version of their time
        and never expanded.
        """
        spec = get_resource(resource)
        types = event_type_filters(list(spec.change_event_types))  # fails for objects without change capture
        bounds = normalize_created(created)
        refetch = check_bool(refetch, "refetch")
        settle = check_setting(settle_seconds, "settle_seconds", 0.0, MAX_SETTLE_SECONDS)
        page_size = check_int(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE)
        parallelism = check_int(parallelism, "parallelism", minimum=1, maximum=MAX_PARALLELISM)
        paths = normalize_expand(expand)
        if paths and not refetch:
            raise StripeParameterError(
                "expand", "needs refetch=True: event payloads are never expanded, only refetched objects are"
            )
        now = time.time()
        check_event_window(bounds, now, required=True)
        start, end = created_bounds(bounds)
        if start > now:
            raise StripeParameterError("created", "the window starts in the future")
        horizon = math.floor(now - settle)  # every event before this second is surely listed
        not_before = 0.0
        if end >= NO_UPPER_BOUND:
            end = max(horizon, start)
        elif end > horizon:
            not_before = end + settle
            if not_before - now > MAX_SETTLE_WAIT:
                ended = pendulum.from_timestamp(end).to_iso8601_string()
                raise StripeParameterError(
                    "created",
                    f"the window ends at {ended}, in the future: its changes cannot be read yet. "
                    "Give an end in the past, or none to read up to now.",
                )
        # The window and types are checked above and in the registry: list them without a second pass.
        window = {"created": {"gte": start, "lt": max(end, start + 1)}}  # not read when empty
        events = self.client.iterate_each(
            EVENTS,
            [{**window, **names} for names in types],
            page_size=page_size,
            parallelism=parallelism,
        )
        return ChangeIterator(
            self.client,
            spec,
            events,
            window=(start, end),
            refetch=refetch,
            params={"expand": paths} if paths else {},
            parallelism=parallelism,
            not_before=not_before,
        )

    @property
    def _connection_label(self) -> str:
        return f"Connection {self.stripe_conn_id!r}"

    def test_connection(self) -> tuple[bool, str]:
        """List one customer to check the key, in one attempt of at most 10 s; never raises.

        The message leaves out the connection id: the UI and REST API test a form
        under a temporary id that would only confuse.
        """
        try:
            client = self.client
            client.request(CUSTOMERS, {"limit": 1}, expect="list", timeout=TEST_TIMEOUT, retry=False)
        except Exception as exc:
            return False, str(exc).removeprefix(f"{self._connection_label}: ")
        account = f", account {client.stripe_account}" if client.stripe_account else ""
        return True, f"Connected to Stripe in {client.mode} mode ({client.base_url}{account})."


def _connection_type() -> dict[str, Any]:
    from airflow_provider_stripe.get_provider_info import get_provider_info

    (conn,) = get_provider_info()["connection-types"]
    return dict(conn)
