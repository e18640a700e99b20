"""Responses: what a success body must look like before anything reads it, and server text in messages.

A server that answers 200 with the wrong shape (no ids, a page longer than asked,
a cursor repeated, records out of ``created`` order, a search page that points at
itself) would make a listing loop forever or lose records silently; each such
body is refused here with what is wrong. Server-sent values quoted in messages
are cut short, so a hostile answer cannot flood the task log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_stripe.api.params import created_bounds


def short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters: server text in a message stays readable."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def text_or_none(value: Any) -> str | None:
    """A string field of a server's answer, or None when the server sent something else."""
    return value if isinstance(value, str) else None


def body_problem(
    body: Any, expect: str | None, params: Mapping[str, Any], created_field: str = "created"
) -> str | None:
    """What is wrong with a success body, or None.

    ``expect``: ``"object"`` (an object with an ``id``), ``"singleton"`` (an object
    with no id, such as the balance, that names its ``object``), ``"list"`` (a page of
    records with ids, no longer than the ``limit`` asked for, not repeating the
    cursor, so a server that ignores the cursor cannot loop us forever),
    ``"created_list"`` (also: integer ``created_field`` values, newest first, inside
    the ``created`` range asked for, as parallel listing relies on) or ``"search"``
    (also: a usable ``next_page``).
    """
    if not isinstance(body, dict):
        return f"the body is JSON {type(body).__name__}, not an object"
    if expect == "object":
        return None if isinstance(body.get("id"), str) and body["id"] else "the object has no id"
    if expect == "singleton":  # one object with no id (the balance)
        return None if isinstance(body.get("object"), str) else "the object has no object field"
    if expect is None:
        return None
    data = body.get("data")
    if not isinstance(data, list):
        return "the list object has no data array"
    if not isinstance(body.get("has_more"), bool):
        return "the list object has no boolean has_more"
    cursor = params.get("starting_after") or params.get("ending_before")
    for position, record in enumerate(data):
        if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
            return f"record {position} of the page has no id"
        if cursor is not None and record["id"] == cursor:
            return f"the page repeats the cursor {cursor!r} it was asked to start after"
    if not data and body["has_more"]:
        return "an empty page says has_more: true, so the list cannot go on"
    limit = params.get("limit")
    if limit is not None and len(data) > limit:
        return f"the page holds {len(data)} records, more than the limit of {limit} asked for"
    if expect == "created_list":
        return _misordered(data, params.get("created"), created_field)
    if expect == "search":
        return _bad_next_page(body, params)
    return None


def _bad_next_page(body: dict[str, Any], params: Mapping[str, Any]) -> str | None:
    """What is wrong with a search result's ``next_page`` cursor, or None."""
    next_page = body.get("next_page")
    if not body["has_more"] and next_page == "":
        return None  # a last page; Stripe sends null
    if next_page is not None and (not isinstance(next_page, str) or not next_page):
        return "its next_page is neither a string nor null"
    if body["has_more"] and next_page is None:
        return "it says has_more: true without a next_page"
    if body["has_more"] and next_page == params.get("page"):
        return "its next_page repeats the page it was asked for, so the search would never end"
    return None


def _misordered(data: list[dict[str, Any]], created: Any, field: str) -> str | None:
    lower, upper = created_bounds(created if isinstance(created, Mapping) else None)
    previous = upper
    for position, record in enumerate(data):
        stamp = record.get(field)
        if not isinstance(stamp, int) or isinstance(stamp, bool):
            return f"record {position} of the page has no integer {field}"
        if not lower <= stamp < upper:
            return f"record {position} was created at {stamp}, outside the created range asked for"
        if stamp > previous:
            return f"record {position} is newer than the one before it: the page is not newest first"
        previous = stamp
    return None
