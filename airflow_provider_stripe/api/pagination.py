"""Pagination: Stripe's lists and searches, page by page, as iterators of records.

A list pages with ``starting_after`` (newest to oldest) or, given only
``ending_before``, towards the newest; a search pages with its opaque
``next_page``; a chain runs several listings as one. Each refuses a server whose
pages cycle, so no listing loops forever. Parallel listing over ``created``
windows is :mod:`airflow_provider_stripe.api.parallel`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from airflow_provider_stripe.api.embedded import complete_lists, listed_paths
from airflow_provider_stripe.api.params import MAX_PAGE_SIZE, MAX_PARALLELISM, check_int, check_optional_int
from airflow_provider_stripe.api.responses import short
from airflow_provider_stripe.exceptions import StripeParameterError, StripeResponseError

if TYPE_CHECKING:
    from airflow_provider_stripe.api.client import StripeClient

log = logging.getLogger(__name__)

PROGRESS_LOG_INTERVAL = 10.0


@dataclass(frozen=True)
class Listing:
    """One list request, checked once (by :func:`check_listing`): everything an iterator needs to page it."""

    #: The list's path under ``/v1/`` (``invoices``, ``checkout/sessions``).
    path: str
    params: Mapping[str, Any]
    page_size: int = MAX_PAGE_SIZE
    #: At most this many records (None: all); only for one worker.
    max_records: int | None = None
    #: Workers fetching ``created`` windows side by side (1: one page after the other).
    parallelism: int = 1
    #: Page each record's embedded lists to their end before it is handed out.
    complete_lists: bool = False
    #: The records' creation time (``created``; ``date`` for invoice items).
    created_field: str = "created"


def check_listing(
    path: str,
    params: Mapping[str, Any],
    *,
    page_size: Any = MAX_PAGE_SIZE,
    max_records: Any = None,
    parallelism: Any = 1,
    complete_lists: bool = False,
    created_field: str = "created",
) -> Listing:
    """A :class:`Listing` of ``path`` with Stripe's ``params``, its paging settings checked.

    ``parallelism`` > 1 exports every matching object, so it takes no cursor and
    no ``max_records``.
    """
    page_size = check_int(page_size, "page_size", minimum=1, maximum=MAX_PAGE_SIZE)
    max_records = check_optional_int(max_records, "max_records", minimum=1)
    parallelism = check_int(parallelism, "parallelism", minimum=1, maximum=MAX_PARALLELISM)
    if parallelism > 1:
        for name in ("starting_after", "ending_before"):
            if params.get(name):
                raise StripeParameterError(
                    "parallelism", f"exports every matching object and cannot be combined with {name}"
                )
        if max_records is not None:
            raise StripeParameterError(
                "parallelism", "exports every matching object and cannot be combined with max_records"
            )
    return Listing(path, params, page_size, max_records, parallelism, complete_lists, created_field)


class ClientUsage:
    """What a client has sent since this object was made: for the progress of one listing."""

    def __init__(self, client: StripeClient) -> None:
        self.client = client
        self.started = time.monotonic()
        self._first_request = client.stats.requests
        self._first_retry = client.stats.retries

    @property
    def elapsed(self) -> float:
        """Seconds since this object was created."""
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def requests(self) -> int:
        """HTTP requests sent since (retries included)."""
        return self.client.stats.requests - self._first_request

    @property
    def retries(self) -> int:
        """Requests that were retried since."""
        return self.client.stats.retries - self._first_retry


class Records(ClientUsage, Iterator[dict[str, Any]]):
    """Records read with one client: its usage since, ``close()``, and a ``with`` block that closes."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading: nothing further is fetched."""


class ListIterator(Records):
    """Objects of a Stripe list, fetched one page at a time (memory: one page).

    Pages forward with ``starting_after`` (newest to oldest). Given only
    ``ending_before`` it pages backwards towards the newest and yields each page
    reversed, i.e. oldest to newest, as stripe-python's auto-pagination does.
    After iteration, ``has_more`` says whether ``max_records`` cut the list short
    while more objects matched; ``pages`` and ``records`` count what was fetched.
    ``close()`` (or leaving a ``with`` block) stops it early. With the listing's
    ``complete_lists`` each record's embedded lists are paged to their end before
    it is handed out.
    """

    #: The shape every page must have (see :meth:`~airflow_provider_stripe.api.client.StripeClient.request`).
    expect = "list"

    def __init__(self, client: StripeClient, listing: Listing) -> None:
        super().__init__(client)
        self.listing = listing
        self.collection = listing.path
        self.params = dict(listing.params)
        self.page_size = listing.page_size
        self.max_records = listing.max_records
        self.complete_lists = listing.complete_lists
        self.created_field = listing.created_field
        self.has_more = False
        self.pages = 0
        self.records = 0
        self._last_log = self.started
        self._objects = self._generate()

    def __next__(self) -> dict[str, Any]:
        return next(self._objects)

    def close(self) -> None:
        """Stop iterating: no further page is fetched."""
        self._objects.close()

    @property
    def rate(self) -> float:
        """Records per second since the iterator was created."""
        return self.records / self.elapsed

    def summary(self) -> str:
        """Records, pages, rates, retries and elapsed time, for the task log."""
        requests_per_second = self.requests / self.elapsed
        return (
            f"{self.records} records in {self.pages} pages, {self.elapsed:.1f}s ({self.rate:.0f} records/s, "
            f"{requests_per_second:.1f} requests/s, {self.retries} retries; {self.client.pacer.summary()})"
        )

    def _count_page(self, size: int) -> None:
        self.pages += 1
        self.records += size
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_INTERVAL:
            self._last_log = now
            log.info("Stripe %s: %s so far", self.collection, self.summary())

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        params = self.params
        backwards = bool(params.get("ending_before")) and not params.get("starting_after")
        remaining = self.max_records
        boundary: Any = None  # created of the record the next page must not be newer (older) than
        while True:
            # remaining is never below 1 here: a page is never longer than the limit asked for.
            params["limit"] = self.page_size if remaining is None else min(self.page_size, remaining)
            page = self.client.request(self.collection, params, expect=self.expect)
            data: list[dict[str, Any]] = page["data"]
            if data:
                boundary = self._check_sequence(data, boundary, backwards)
            self._count_page(len(data))
            if remaining is not None:
                remaining -= len(data)
            for record in reversed(data) if backwards else data:
                if self.complete_lists:  # one record at a time: memory holds one record's lists
                    complete_lists(self.client, [record], listed_paths(params))
                yield record
            if not page["has_more"]:
                return
            if remaining == 0:
                self.has_more = True
                return
            self._turn_page(params, page, backwards)

    def _turn_page(self, params: dict[str, Any], page: dict[str, Any], backwards: bool) -> None:
        """Point ``params`` at the page after ``page``."""
        data = page["data"]
        if backwards:
            params["ending_before"] = data[0]["id"]
        else:
            params["starting_after"] = data[-1]["id"]

    def _check_sequence(self, data: list[dict[str, Any]], boundary: Any, backwards: bool) -> Any:
        """Refuse a page that goes back in ``created`` order (a server cycling through pages).

        Pages run newest to oldest (towards the newest with ``ending_before``); a page
        whose records are newer (older) than the last page's would restart the list.
        Returns the boundary for the next page.
        """
        first, last = data[0].get(self.created_field), data[-1].get(self.created_field)
        ordered = isinstance(boundary, int) and isinstance(first, int) and isinstance(last, int)
        if ordered and ((last < boundary) if backwards else (first > boundary)):
            raise StripeResponseError(
                f"GET /v1/{self.collection} answered a page that goes back in created order after "
                f"page {self.pages}: the list would never end"
            )
        return first if backwards else last


class SearchIterator(ListIterator):
    """Results of a Stripe search (``/v1/<collection>/search``), page by page with ``next_page``.

    Search pages carry an opaque ``page`` cursor instead of object ids, and its
    results are in Stripe's relevance order, not ``created`` order. A result seen
    twice means the pages cycle: that fails rather than loop (memory: the ids seen).
    """

    expect = "search"

    def _check_sequence(self, data: list[dict[str, Any]], boundary: Any, backwards: bool) -> Any:
        seen: set[str] = boundary if isinstance(boundary, set) else set()
        for record in data:
            if record["id"] in seen:
                repeated = self.client.redact(short(record["id"]))
                raise StripeResponseError(
                    f"GET /v1/{self.collection} answered {repeated} again after page {self.pages}: "
                    "its pages cycle, so the search would never end"
                )
            seen.add(record["id"])
        return seen

    def _turn_page(self, params: dict[str, Any], page: dict[str, Any], backwards: bool) -> None:
        params["page"] = page["next_page"]


class ListChain(ListIterator):
    """Listings run one after the other as one :class:`ListIterator` (counts and ``close`` included)."""

    def __init__(
        self,
        client: StripeClient,
        collection: str,
        parts: Sequence[Callable[[int | None], ListIterator]],
        *,
        max_records: int | None,
    ) -> None:
        self._parts = parts
        super().__init__(client, Listing(collection, {}, max_records=max_records))

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        for position, make in enumerate(self._parts):
            remaining = None if self.max_records is None else self.max_records - self.records
            if remaining == 0:
                # Enough records: say whether any later listing still has one (one small request each).
                for probe_part in self._parts[position:]:
                    with probe_part(1) as probe:
                        if next(probe, None) is not None:
                            self.has_more = True
                            return
                return
            with make(remaining) as part:
                yield from part
                self.pages += part.pages
                self.records += part.records
                self.has_more = part.has_more
