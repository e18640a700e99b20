"""Embedded lists: page every list Stripe cut short inside a record (an invoice's ``lines``) to its end.

Stripe embeds at most 10 items of a record's lists (``lines``, ``items``,
``refunds``, expanded ``line_items``) and says ``has_more: true``; each such list
is paged from its own ``url`` and replaced by the whole list, so no record is
written with a list silently cut at 10. Only a path on the same API is followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_provider_stripe.api.params import MAX_PAGE_SIZE
from airflow_provider_stripe.api.responses import short
from airflow_provider_stripe.exceptions import StripeResponseError

if TYPE_CHECKING:
    from airflow_provider_stripe.api.client import StripeClient

#: An embedded list longer than this is refused rather than held in memory.
MAX_EMBEDDED_ITEMS = 100_000
#: An embedded list's ``url``: a path under /v1/ (never a host, a query or a dot segment).
_EMBEDDED_URL = re.compile(r"/v1/[A-Za-z0-9_.~%-]+(/[A-Za-z0-9_.~%-]+)*")
#: A query parameter an embedded list's ``url`` may carry (``subscription=sub_…``).
_EMBEDDED_QUERY_NAME = re.compile(r"[A-Za-z0-9_]+")
#: Query parameters that are ours to set when paging.
_RESERVED = ("limit", "starting_after", "ending_before", "page", "expand")


def embedded_list_request(url: Any) -> tuple[str, dict[str, str]] | None:
    """The path (under ``/v1/``) and query of an embedded list's ``url``, or None if it is unusable.

    Only a path on the same API is followed: a host, a scheme, a fragment, a dot
    segment or a query naming a cursor or ``limit`` (ours to set) is refused, so an
    answer cannot send the key elsewhere or steer the paging.
    """
    if not isinstance(url, str) or len(url) > 2048:
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or parts.fragment or not _EMBEDDED_URL.fullmatch(parts.path):
        return None
    for segment in parts.path.split("/"):
        decoded = unquote(segment)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:  # an escaped separator
            return None
    try:
        query = parse_qsl(parts.query, strict_parsing=bool(parts.query), max_num_fields=10)
    except ValueError:
        return None
    if any(not _EMBEDDED_QUERY_NAME.fullmatch(name) or name in _RESERVED for name, _ in query):
        return None
    return parts.path.removeprefix("/v1/"), dict(query)


def listed_paths(params: Mapping[str, Any]) -> list[str]:
    """A list request's ``expand`` paths as seen from one of its records (``data.x`` → ``x``)."""
    return [path[len("data.") :] for path in params.get("expand") or () if path.startswith("data.")]


def complete_lists(
    client: StripeClient, records: Iterable[dict[str, Any]], expand: Sequence[str] | None = None
) -> None:
    """Page every embedded list cut short in ``records`` to its end, in place.

    Each Stripe list with ``has_more: true`` in a record — a field of its own
    (``lines``) or of an expanded object (``subscription.items``) — is paged from
    its own ``url`` and replaced by the whole list (``has_more: false``).
    ``expand`` (the paths the records were retrieved with; see
    :func:`listed_paths` for a list's) is carried to each list's pages:
    ``lines.data.price`` expands the price of every line, not only of the first 10.
    """
    paths = list(expand or ())
    for record in records:
        for holder, name, value, prefix in _cut_lists(record, hashes=bool(paths)):
            where = f"{record.get('object')} {short(record.get('id'))}: its {prefix}{name} list"
            inner = [
                path[len(f"{prefix}{name}.") :] for path in paths if path.startswith(f"{prefix}{name}.data.")
            ]
            holder[name] = _complete_list(client, where, value, inner)


def _complete_list(
    client: StripeClient, where: str, embedded: dict[str, Any], expand: list[str]
) -> dict[str, Any]:
    request = embedded_list_request(embedded.get("url"))
    data = embedded.get("data")
    if request is None:
        url = client.redact(short(embedded.get("url")))
        raise StripeResponseError(f"Stripe answered {where} with an unusable url {url}")
    if not isinstance(data, list) or not data:
        raise StripeResponseError(f"Stripe answered {where} that has more items but no data to page from")
    path, query = request
    seen: set[str] = set()
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise StripeResponseError(f"Stripe answered {where} with an item without an id")
        seen.add(item["id"])
    items = list(data)
    while True:
        params = {
            **query,
            "limit": MAX_PAGE_SIZE,
            "starting_after": items[-1]["id"],
            "expand": expand or None,
        }
        page = client.request(path, params, expect="list")
        for item in page["data"]:
            if item["id"] in seen:
                repeated = client.redact(short(item["id"]))
                raise StripeResponseError(
                    f"GET /v1/{path} repeated the item {repeated} of {where}: it would never end"
                )
            seen.add(item["id"])
        items.extend(page["data"])
        if len(items) > MAX_EMBEDDED_ITEMS:
            raise StripeResponseError(f"{where} has more than {MAX_EMBEDDED_ITEMS} items")
        if not page["has_more"]:
            return {**embedded, "data": items, "has_more": False}


def _cut_lists(
    value: dict[str, Any], prefix: str = "", depth: int = 0, *, hashes: bool = False
) -> Iterator[tuple[dict[str, Any], str, dict[str, Any], str]]:
    """Every list cut short in ``value`` and in the objects expanded into it (up to 4 levels, as
    Stripe expands): ``(the dict holding it, its key, the list, the path to that dict)``.

    With ``hashes`` (the records were asked for with ``expand``), plain hashes are walked
    too: since basil an invoice's expanded subscription sits at
    ``parent.subscription_details.subscription``. Without, only objects are: nothing is
    expanded into a hash unless asked for, and the walk costs every record its time."""
    for name, child in value.items():  # callers replace values only: the dict never grows
        if type(child) is not dict:
            continue
        if child.get("object") == "list":
            if child.get("has_more") is True:
                yield value, name, child, prefix
        elif depth < 3 and (hashes or "object" in child):  # an expanded object, or a hash holding one
            yield from _cut_lists(child, f"{prefix}{name}.", depth + 1, hashes=hashes)
