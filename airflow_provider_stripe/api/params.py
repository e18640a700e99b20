"""Validation of user-facing parameters, shared by the hook and the operators.

Everything here runs before a request is sent, so bad input fails fast with an
error that names the parameter.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Union
from urllib.parse import quote

import pendulum

from airflow_provider_stripe.api.registry import (
    AMOUNT_RANGE,
    ARRAY,
    BOOLEAN,
    EMAIL,
    ID,
    INTEGER,
    RANGE,
    STRING,
    FilterKind,
    Resource,
)
from airflow_provider_stripe.exceptions import StripeParameterError

#: What ``created`` (or one of its bounds) may be given as.
Timestamp = Union[int, float, str, dt.datetime, dt.date]
#: ``created``: one timestamp (exact second) or a range ``{"gt"|"gte"|"lt"|"lte": Timestamp}``.
CreatedFilter = Union[Timestamp, Mapping[str, Timestamp]]

#: The connection id every hook and operator uses unless told otherwise.
DEFAULT_CONN_ID = "stripe_default"
CREATED_OPERATORS = ("gt", "gte", "lt", "lte")
MAX_PAGE_SIZE = 100
#: The most worker threads one listing or retrieval may run.
MAX_PARALLELISM = 32
#: The exclusive upper bound :func:`created_bounds` gives a range that has none.
NO_UPPER_BOUND = 2**53


def to_unix(value: Any, param: str = "created", *, round_up: bool = False) -> int:
    """Turn an int, a float, a datetime (naive means UTC) or an ISO-8601 string into Unix seconds.

    ``round_up`` picks the ceiling for fractional seconds (used for exclusive upper
    and inclusive lower bounds, so that sub-second bounds keep their meaning).
    """
    if isinstance(value, bool):
        raise StripeParameterError(param, f"expected a timestamp, got a boolean {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, dt.datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        seconds = aware.timestamp()
    elif isinstance(value, dt.date):
        seconds = float(pendulum.datetime(value.year, value.month, value.day).int_timestamp)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise StripeParameterError(param, "empty timestamp")
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = pendulum.parse(text, tz="UTC")
            except Exception as exc:
                raise StripeParameterError(
                    param, f"cannot parse {value!r} as Unix seconds or an ISO-8601 date-time"
                ) from exc
            if not isinstance(parsed, dt.datetime):
                raise StripeParameterError(param, f"{value!r} is not a date-time") from None
            seconds = parsed.timestamp()
    else:
        raise StripeParameterError(
            param, f"expected Unix seconds, a datetime or an ISO-8601 string, got {type(value).__name__}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise StripeParameterError(param, f"{value!r} is not a valid timestamp")
    return math.ceil(seconds) if round_up else math.floor(seconds)


def normalize_created(created: CreatedFilter | None, param: str = "created") -> int | dict[str, int] | None:
    """Normalise ``created`` (or another range filter ``param``) to Unix seconds.

    Unknown keys and empty ranges are refused. Fractional bounds are rounded so the
    integer bound selects the same objects (``gte 10.5`` becomes ``gte 11``, ``lt
    10.5`` becomes ``lt 11``, ``gt``/``lte`` round down).
    """
    if created is None:
        return None
    if not isinstance(created, Mapping):
        return to_unix(created, param)
    unknown = sorted(set(map(str, created)) - set(CREATED_OPERATORS))
    if unknown:
        raise StripeParameterError(param, f"unknown key(s) {unknown}; use {', '.join(CREATED_OPERATORS)}")
    bounds = {
        op: to_unix(created[op], f"{param}[{op}]", round_up=op in ("gte", "lt"))
        for op in CREATED_OPERATORS
        if created.get(op) not in (None, "")
    }
    if not bounds:
        raise StripeParameterError(param, "empty range: give at least one of gt, gte, lt, lte")
    lower, upper = created_bounds(bounds)
    if lower >= upper:
        raise StripeParameterError(param, f"empty range {bounds}: no second satisfies every bound")
    return bounds


def created_bounds(created: int | Mapping[str, int] | None) -> tuple[int, int]:
    """The half-open interval ``[lower, upper)`` of Unix seconds a normalised ``created`` selects."""
    if created is None:
        return 0, NO_UPPER_BOUND
    if isinstance(created, int):
        return created, created + 1
    lower = max(created.get("gte", 0), created.get("gt", -1) + 1)
    upper = min(created.get("lt", NO_UPPER_BOUND), created.get("lte", NO_UPPER_BOUND - 1) + 1)
    return lower, upper


_DECIMAL = re.compile(r"[+-]?[0-9]+")
#: Characters an id may never hold: whitespace and control characters (C0, DEL, C1).
_BAD_ID_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
MAX_ID_LENGTH = 255


def check_int(value: Any, param: str, *, minimum: int, maximum: int | None = None) -> int:
    """Accept an int (or its ASCII decimal string, as templates render) within the bounds."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise StripeParameterError(param, f"must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise StripeParameterError(param, f"must be at least {minimum}{upper}, got {value}")
    return value


def check_optional_int(value: Any, param: str, *, minimum: int, maximum: int | None = None) -> int | None:
    """Like :func:`check_int`, but ``None`` (and an empty template) means "not set"."""
    if value is None or value == "":
        return None
    return check_int(value, param, minimum=minimum, maximum=maximum)


def check_id(value: Any, param: str) -> str:
    """A Stripe object id: a non-empty string without whitespace or control characters.

    ``.`` and ``..`` are refused too: HTTP stacks turn them into dot-segments of
    the path, however they are escaped. Custom ids (Stripe lets an account choose
    a customer's id) may hold any other character; they are escaped on the wire.
    """
    if not isinstance(value, str) or not value:
        raise StripeParameterError(param, f"must be a non-empty Stripe id, got {value!r}")
    if _BAD_ID_CHARACTERS.search(value):
        raise StripeParameterError(param, f"{value!r} holds whitespace or control characters")
    if value in (".", "..") or len(value) > MAX_ID_LENGTH:
        raise StripeParameterError(param, f"{value!r} is not a Stripe id")
    return value


def check_bool(value: Any, param: str) -> bool:
    """A flag: a bool, or what a template renders for one (``"True"``, ``"false"``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in ("true", "false"):
        return text == "true"
    raise StripeParameterError(param, f"must be True or False, got {value!r}")


def check_number(value: Any, param: str, *, allow_zero: bool) -> float:
    """A finite number (or its string) that is positive, or zero when ``allow_zero``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        least = "at least 0" if allow_zero else "more than 0"
        raise StripeParameterError(param, f"must be a number {least}, got {value!r}")
    return number


#: The settings' ranges: every wait they allow is bounded and fits the clocks and sockets
#: that carry it out (a timeout of 1e12 s overflows a socket's, a rate of 1e-6/s waits 11 days).
MIN_TIMEOUT, MAX_TIMEOUT = 0.001, 3600.0
MAX_RETRIES = 100
MAX_RETRY_WAIT = 86400.0
MIN_REQUESTS_PER_SECOND, MAX_REQUESTS_PER_SECOND = 0.01, 10_000.0


def check_setting(value: Any, param: str, minimum: float, maximum: float) -> float:
    """A number setting within ``[minimum, maximum]``; the message names the setting and its range."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not minimum <= number <= maximum:
        raise StripeParameterError(
            param, f"must be a number at least {minimum:g} and at most {maximum:g}, got {value!r}"
        )
    return number


def check_rate(value: Any, param: str) -> float | None:
    """A requests-per-second budget from 0.01 to 10,000, or ``0``/``None`` for no pacing."""
    if value is None or value == "":
        return None
    if not isinstance(value, bool) and value in (0, "0", "0.0"):
        return None
    try:
        return check_setting(value, param, MIN_REQUESTS_PER_SECOND, MAX_REQUESTS_PER_SECOND)
    except StripeParameterError:
        raise StripeParameterError(
            param,
            f"must be 0 (no pacing) or a number at least {MIN_REQUESTS_PER_SECOND:g} and at most "
            f"{MAX_REQUESTS_PER_SECOND:g}, got {value!r}",
        ) from None


def check_cursors(starting_after: str | None, ending_before: str | None) -> None:
    """Stripe accepts at most one pagination cursor."""
    if starting_after and ending_before:
        raise StripeParameterError(
            "ending_before", "cannot be combined with starting_after: give at most one cursor"
        )
    for name, cursor in (("starting_after", starting_after), ("ending_before", ending_before)):
        if cursor is not None and cursor != "":
            check_id(cursor, name)


def normalize_expand(expand: str | Iterable[str] | None) -> list[str] | None:
    """``expand`` as a list of non-empty paths (a single string is one path)."""
    if expand is None:
        return None
    paths = [expand] if isinstance(expand, str) else list(expand)
    for path in paths:
        if not isinstance(path, str) or not path.strip():
            raise StripeParameterError("expand", f"each path must be a non-empty string, got {path!r}")
        if path.count(".") > 3:
            raise StripeParameterError("expand", f"{path!r} is deeper than Stripe's 4 levels")
    return paths or None


def list_params(
    *,
    limit: int | None = None,
    starting_after: str | None = None,
    ending_before: str | None = None,
    created: CreatedFilter | None = None,
    expand: str | Iterable[str] | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """Validate what every Stripe list takes and return it, with ``filters``, as request parameters."""
    check_cursors(starting_after, ending_before)
    params: dict[str, Any] = {
        "limit": check_optional_int(limit, "limit", minimum=1, maximum=MAX_PAGE_SIZE),
        "starting_after": starting_after or None,
        "ending_before": ending_before or None,
        "created": normalize_created(created),
        "expand": normalize_expand(expand),
        **filters,
    }
    return {key: value for key, value in params.items() if value is not None and value != ""}


#: The longest free-text filter Stripe takes, and the longest email.
MAX_STRING_LENGTH = {STRING: 5000, EMAIL: 512}


def check_filter(value: Any, param: str, kind: FilterKind) -> Any:
    """One list filter's value, checked against its kind in the registry (see :mod:`.registry`).

    An empty or blank string, or ``"None"`` (what a template renders for None), is
    refused for every kind: sent, it would widen the list (``customer=""`` lists
    every customer's invoices) or empty it (``customer=None`` matches nothing).
    """
    if isinstance(value, str) and value.strip() in ("", "None"):
        raise StripeParameterError(
            param,
            f"is {value!r}: an empty value, or a template that rendered None, would widen or empty the "
            "list. Leave the filter out (or pass None) to list without it",
        )
    if isinstance(kind, tuple):
        if value not in kind:
            raise StripeParameterError(param, f"must be one of {', '.join(kind)}, got {value!r}")
        return value
    if kind == ID:
        return check_id(value, param)
    if kind == BOOLEAN:
        return check_bool(value, param)
    if kind == INTEGER:
        return check_int(value, param, minimum=0)
    if kind == RANGE:
        return normalize_created(value, param)
    if kind == AMOUNT_RANGE:
        bounds = value if isinstance(value, Mapping) else {"eq": value}
        if not bounds or set(bounds) - {"eq", *CREATED_OPERATORS}:
            raise StripeParameterError(
                param, f"must be an amount or a range of gt, gte, lt, lte, got {value!r}"
            )
        checked = {op: check_int(bound, f"{param}[{op}]", minimum=0) for op, bound in bounds.items()}
        return checked.get("eq", checked)
    if kind == ARRAY:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not values:
            raise StripeParameterError(param, f"must be a list of strings, got {value!r}")
        return [check_filter(item, param, STRING) for item in values]
    longest = MAX_STRING_LENGTH[kind]
    if not isinstance(value, str) or not value or len(value) > longest:
        shown = repr(value) if len(repr(value)) < 80 else f"{repr(value)[:60]}… ({len(value)} characters)"
        raise StripeParameterError(
            param, f"must be a non-empty string of at most {longest} characters, got {shown}"
        )
    return value


def check_filters(filters: Any) -> Mapping[str, Any]:
    """A list's ``filters``: a mapping of filter names to values (None: no filters)."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise StripeParameterError("filters", f"must be a mapping of filter names to values, got {filters!r}")
    return filters


def object_list_params(
    resource: Resource,
    *,
    limit: int | None = None,
    starting_after: str | None = None,
    ending_before: str | None = None,
    created: CreatedFilter | None = None,
    expand: str | Iterable[str] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a list request of ``resource`` against its registry row; return Stripe's parameters.

    A filter the resource does not take, or a value of the wrong kind, fails here,
    before any request. The row's ``list_defaults`` fill filters not named at all;
    one named with None is left to Stripe's own default (subscriptions:
    ``status=None`` lists every status but canceled, as Stripe does).
    """
    filters = check_filters(filters)
    if resource.singleton:
        raise StripeParameterError(
            "resource",
            f"{resource.name} is one object, not a list: get it with get_object({resource.name!r})",
        )
    if created is not None and created != "" and not resource.created:
        raise StripeParameterError("created", f"the {resource.name} list cannot be filtered by created")
    checked: dict[str, Any] = {}
    for name, value in (filters or {}).items():
        if name in resource.unsupported_filters:
            raise StripeParameterError(
                "filters",
                f"the {resource.name} filter {name!r} is not supported: {resource.unsupported_filters[name]}",
            )
        if name not in resource.filters:
            known = ", ".join(sorted(resource.filters)) or "none besides created"
            raise StripeParameterError(
                "filters", f"the {resource.name} list takes no filter {name!r}; its filters: {known}"
            )
        if value is not None:  # None: not set (a template's "" or "None" fails in check_filter)
            checked[name] = check_filter(value, name, resource.filters[name])
    defaults = {name: value for name, value in resource.list_defaults.items() if name not in (filters or {})}
    return list_params(
        limit=limit,
        starting_after=starting_after,
        ending_before=ending_before,
        created=created if resource.created else None,
        expand=expand,
        **defaults,
        **checked,
    )


#: The longest search query accepted here (Stripe's own queries are short).
MAX_QUERY_LENGTH = 10_000


def check_search_query(query: Any) -> str:
    """A query in Stripe's search language: a non-empty string without control characters."""
    if not isinstance(query, str) or not query.strip():
        raise StripeParameterError("query", f"must be a non-empty search query, got {query!r}")
    if len(query) > MAX_QUERY_LENGTH or re.search(r"[\x00-\x1f\x7f]", query):
        raise StripeParameterError("query", "is too long or holds control characters")
    return query


def event_list_params(
    *,
    starting_after: str | None = None,
    ending_before: str | None = None,
    created: CreatedFilter | None = None,
    delivery_success: bool | None = None,
) -> dict[str, Any]:
    """Validate the events-list filters other than the types (see :func:`event_type_filters`)."""
    if delivery_success is not None and not isinstance(delivery_success, bool):
        raise StripeParameterError(
            "delivery_success", f"must be True, False or None, got {delivery_success!r}"
        )
    return list_params(
        starting_after=starting_after,
        ending_before=ending_before,
        created=created,
        delivery_success=delivery_success,
    )


def split_created(created: CreatedFilter, parts: int) -> list[dict[str, int]]:
    """Split a bounded ``created`` range into ``parts`` contiguous half-open windows.

    For spreading one export over many Airflow workers: map
    ``StripeListCustomersOperator`` over the result with ``.expand(created=...)``.
    Every second belongs to exactly one window; fewer windows come back when the
    range has fewer seconds than ``parts``.
    """
    parts = check_int(parts, "parts", minimum=1)
    bounds = normalize_created(created)
    if not isinstance(bounds, dict) or not bounds.keys() & {"gt", "gte"} or not bounds.keys() & {"lt", "lte"}:
        raise StripeParameterError("created", "to split it, give a lower and an upper bound")
    lower, upper = created_bounds(bounds)
    count = min(parts, upper - lower)
    edges = [lower + (upper - lower) * i // count for i in range(count)] + [upper]
    return [{"gte": edges[i], "lt": edges[i + 1]} for i in range(count)]


#: Stripe keeps events this long; older ones cannot be listed.
EVENT_RETENTION_SECONDS = 30 * 86400
#: A change window must start this much inside the retention, so that its oldest events do
#: not expire while they are being read.
EVENT_RETENTION_MARGIN_SECONDS = 3600
#: Change windows stay this many seconds behind the present: events of the last moments may
#: not be listed yet (and clocks differ).
DEFAULT_SETTLE_SECONDS = 60.0
#: The longest settle margin: beyond an hour, events are surely listed (and a window could not end).
MAX_SETTLE_SECONDS = 3600.0
#: ``types[]`` takes at most this many event names per request.
MAX_EVENT_TYPES = 20
_EVENT_TYPE = re.compile(r"[a-z0-9_*]+(\.[a-z0-9_*]+)*")


def event_type_filters(types: str | Iterable[str] | None) -> list[dict[str, Any]]:
    """The ``type``/``types[]`` parameters of one events listing each (several when over 20 names).

    ``types`` is one event name or pattern (``"customer.*"``), sent as ``type``; or
    several exact names, sent as ``types[]`` in groups of :data:`MAX_EVENT_TYPES`.
    A pattern cannot be mixed with other names: Stripe takes ``type`` or ``types[]``.
    """
    if types is None:
        return [{}]
    names = [types] if isinstance(types, str) else list(types)
    if not names:
        raise StripeParameterError("types", "give at least one event type, or None for every type")
    for name in names:
        if not isinstance(name, str) or not _EVENT_TYPE.fullmatch(name):
            raise StripeParameterError(
                "types", f"{name!r} is not an event type such as 'customer.updated' or 'customer.*'"
            )
    if len(names) == 1:
        return [{"type": names[0]}]
    if any("*" in name for name in names):
        raise StripeParameterError(
            "types", "a pattern with * must be the only type: Stripe takes one pattern or exact names"
        )
    unique = list(dict.fromkeys(names))
    return [{"types": unique[i : i + MAX_EVENT_TYPES]} for i in range(0, len(unique), MAX_EVENT_TYPES)]


def check_event_window(created: int | Mapping[str, int] | None, now: float, *, required: bool) -> None:
    """Refuse a ``created`` window whose start Stripe's events no longer cover.

    Events are kept 30 days; a window starting earlier (or, when ``required``, a
    window with no start at all) would silently miss changes, so it fails before
    any request and says to run a full export instead.
    """
    lower, _ = created_bounds(created)
    if lower == 0 and not required:
        return
    oldest = int(now) - EVENT_RETENTION_SECONDS + EVENT_RETENTION_MARGIN_SECONDS
    if lower == 0:
        raise StripeParameterError(
            "created",
            "give the window's start (gte or gt): changes are read from events, which Stripe keeps "
            "30 days; for the state before that, run a full export (StripeListCustomersOperator)",
        )
    if lower < oldest:
        start = pendulum.from_timestamp(lower).to_iso8601_string()
        raise StripeParameterError(
            "created",
            f"the window starts at {start}, more than 30 days ago (less an hour of margin): Stripe keeps "
            "events 30 days, so changes before then cannot be read. Run a full export "
            "(StripeListCustomersOperator without created) and read changes from its start time on.",
        )


def child_route(resource: Resource, parent_id: Any, *, listing: bool) -> tuple[str, dict[str, str]]:
    """Where to ask under ``/v1/``, and the filter that names the parent, for ``parent_id``.

    A parent in the path (``customers/{customer}/balance_transactions``) goes into it,
    escaped; one that is a required filter of the list (subscription items'
    ``subscription``) comes back as that filter. Either is required to list; a filter
    parent is refused to get (the child's id is unique on its own, and a parent given
    there would be a tag nothing checks). A resource without a parent refuses a
    ``parent_id``. An empty id, or ``"None"`` (what a template renders for None), fails
    as filters do.
    """
    given = not (parent_id is None or (isinstance(parent_id, str) and not parent_id))
    if resource.parent is None:
        if given:
            raise StripeParameterError("parent_id", f"{resource.name} have no parent")
        return resource.path, {}
    if not resource.parent_in_path and not listing:
        if given:
            raise StripeParameterError(
                "parent_id", f"{resource.name} are retrieved by their id alone: give no parent_id"
            )
        return resource.path, {}
    if not given:
        raise StripeParameterError(
            "parent_id", f"is required: {resource.name} belong to a {resource.parent} (give its id)"
        )
    checked = check_parent_id(parent_id)
    if resource.parent_in_path:
        return resource.list_path(quote(checked, safe="")), {}
    return resource.path, {resource.parent: checked}


def check_parent_id(value: Any) -> str:
    """A parent's id: an id, and not what a template renders for nothing (blank or ``"None"``)."""
    if isinstance(value, str) and value.strip() in ("", "None"):
        raise StripeParameterError("parent_id", f"is empty ({value!r}): a template rendered nothing for it")
    return check_id(value, "parent_id")
