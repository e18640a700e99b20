"""Parallel listing: one list fetched by many threads over ``created`` windows, with work stealing.

The ``created`` range is paged by a crew of worker threads, each in a window of
its own; a worker whose window runs dry takes the older part of the busiest
one. Every object is fetched exactly once, ties in one second included, and
the crew stops within a second when the listing is closed or dropped.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_stripe.api import transport
from airflow_provider_stripe.api.embedded import complete_lists, listed_paths
from airflow_provider_stripe.api.pagination import Listing, ListIterator
from airflow_provider_stripe.api.params import NO_UPPER_BOUND, created_bounds
from airflow_provider_stripe.exceptions import StripeError

if TYPE_CHECKING:
    from airflow_provider_stripe.api.client import StripeClient

#: When a parallel worker steals work, the owner keeps at most this many pages below its cursor.
STEAL_CHUNK_PAGES = 50


@dataclass
class _Window:
    """A ``created`` range ``[lo, hi)`` one worker pages through, newest first (``hi`` None: open)."""

    lo: int
    hi: int | None
    cursor: str | None = None
    #: ``created`` of the last object fetched: the owner may still need that second (ties).
    frontier: int | None = None
    #: Objects per second seen in this window, or inherited from the window it was split
    #: from until its own first page (unknown: not split).
    density: float | None = None
    first_created: int | None = None
    fetched: int = 0
    done: bool = False

    def stealable(self) -> int:
        """Seconds a thief could take from the bottom: ``[lo, frontier or hi)``."""
        top = self.frontier if self.frontier is not None else self.hi
        return 0 if top is None or self.done else top - self.lo

    def remaining(self) -> float:
        """Estimated objects left below the frontier (0 while the density is unknown)."""
        span = self.stealable()
        return 0.0 if span < 2 or self.density is None else self.density * span

    def record(self, objects: list[dict[str, Any]], field: str) -> None:
        """Move the cursor past a page of objects (created at ``field``); update the density estimate."""
        self.cursor, self.frontier = objects[-1]["id"], objects[-1][field]
        self.first_created = self.first_created or objects[0][field]
        self.fetched += len(objects)
        self.density = self.fetched / (self.first_created - self.frontier + 1)


class _Crew:
    """The worker threads of one parallel listing and all they share.

    Workers hold this, never the iterator, so an iterator that is dropped is
    collected and its ``__del__`` stops them.
    """

    def __init__(
        self, client: StripeClient, listing: Listing, params: dict[str, Any], parallelism: int
    ) -> None:
        self.client = client
        self.listing = listing
        lower, upper = created_bounds(params.pop("created", None))
        self.params = params
        self.windows = [_Window(lower, None if upper >= NO_UPPER_BOUND else upper)]
        self.lock = threading.Condition()
        self.pages: queue.Queue[list[dict[str, Any]] | BaseException | None] = queue.Queue(
            maxsize=2 * parallelism
        )
        self.stopped = threading.Event()
        # One worker starts on the whole range; the others split it as soon as its first page
        # tells the density, so no request is spent on empty guesses.
        self.threads = [
            threading.Thread(
                target=self._work,
                args=(self.windows[0] if i == 0 else None,),
                name=f"stripe-list-{i}",
                daemon=True,
            )
            for i in range(parallelism)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, wait: float = 0.0) -> None:
        """Tell every worker to stop (abandoning its request in flight); wait up to ``wait`` seconds."""
        with self.lock:
            self.stopped.set()
            self.lock.notify_all()
        transport.poke_watchdog()
        deadline = time.monotonic() + wait
        for thread in self.threads:
            if wait and thread.is_alive():
                thread.join(max(deadline - time.monotonic(), 0.0))

    def _claim(self, previous: _Window | None) -> _Window | None:
        """The next window for a worker (the older part of the busiest window), or None when all are done."""
        page_size = self.listing.page_size
        with self.lock:
            if previous is not None:
                self.lock.notify_all()
            while not self.stopped.is_set():
                victim = max(self.windows, key=_Window.remaining)
                remaining = victim.remaining()
                # Less than two pages' worth is not worth a split: every split costs a partial page.
                if remaining >= 2 * page_size and victim.density:
                    # The owner keeps a chunk just below its frontier (half, at most
                    # STEAL_CHUNK_PAGES pages); the thief takes everything older and pages
                    # it from the top, so an empty old range costs it one request, not many.
                    top = victim.frontier if victim.frontier is not None else victim.hi
                    assert top is not None
                    keep = min(remaining / 2, STEAL_CHUNK_PAGES * page_size) / victim.density
                    mid = min(max(top - int(keep), victim.lo + 1), top - 1)
                    stolen = _Window(victim.lo, mid, density=victim.density)
                    victim.lo = mid
                    self.windows.append(stolen)
                    return stolen
                if all(window.done for window in self.windows):
                    return None
                self.lock.wait(timeout=0.05)  # an open window may become stealable after its first page
        return None

    def _drain(self, window: _Window) -> None:
        listing = self.listing
        field = listing.created_field
        while not self.stopped.is_set():
            with self.lock:
                created: dict[str, int] = {"gte": window.lo}
                if window.hi is not None:
                    created["lt"] = window.hi
                params = {**self.params, "created": created, "limit": listing.page_size}
                if window.cursor:
                    params["starting_after"] = window.cursor
            page = self.client.request(listing.path, params, expect="created_list", created_field=field)
            data: list[dict[str, Any]] = page["data"]
            with self.lock:
                keep = data
                if data and data[-1][field] < window.lo:  # a thief took that part meanwhile
                    keep = [item for item in data if item[field] >= window.lo]
                if keep:
                    window.record(keep, field)
                window.done = len(keep) < len(data) or not page["has_more"]
                done = window.done
                if done and not window.fetched:
                    # An empty range: the inherited density of the unexplored ranges below it is
                    # unfounded, so do not split them until they have been seen.
                    for other in self.windows:
                        if not other.fetched and other.hi is not None and other.hi <= window.lo:
                            other.density = None
            if listing.complete_lists:
                complete_lists(self.client, keep, listed_paths(params))
            self._put(keep)
            if done:
                return

    def _put(self, item: list[dict[str, Any]] | BaseException | None) -> None:
        while not self.stopped.is_set():
            try:
                self.pages.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _work(self, first: _Window | None) -> None:
        try:
            with transport.cancelled_by(self.stopped):
                window = first or self._claim(None)
                while window is not None:
                    self._drain(window)
                    window = self._claim(window)
        except transport.Cancelled:
            pass
        except BaseException as exc:
            self._put(exc)
            self.stop()
        finally:
            self._put(None)


class ParallelListIterator(ListIterator):
    """Every object of a list, fetched by ``parallelism`` workers over ``created`` windows.

    The ``created`` range (the caller's bounds, or all history) is split into one
    window per worker. Each window is paged newest first with ``created[gte]``/
    ``created[lt]`` and a ``starting_after`` cursor. A worker whose window runs
    dry takes over the older half of the largest remaining window (work
    stealing): the owner's lower bound rises to the split second and anything
    below it in an in-flight page is left to the thief, so every object is
    fetched exactly once, ties in one second included. The newest window is open
    above and starts from the newest object, so objects created while the export
    runs are not included (the next incremental run picks them up). All workers
    share the client's pacing. Order: pages arrive as workers finish them, so
    objects are newest first within a page but not across pages; sort by
    ``(created, id)`` if order matters. Memory: at most ``2 * parallelism`` pages
    queued. Stopping early (``close()``, a ``with`` block, ``break`` then dropping
    the iterator, an exception) stops the workers within a second, abandoning
    requests in flight.
    """

    def __init__(self, client: StripeClient, listing: Listing) -> None:
        super().__init__(client, listing)
        self.parallelism = listing.parallelism
        self._crew = _Crew(client, listing, self.params, listing.parallelism)
        self._page: list[dict[str, Any]] = []
        self._position = 0
        self._running = listing.parallelism
        self._started = False
        self._pid = os.getpid()

    @property
    def windows(self) -> list[_Window]:
        """The ``created`` windows the workers have paged or are paging."""
        return self._crew.windows

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        # Records are handed out by __next__, not by a generator method: its frame would hold
        # the iterator in a reference cycle, and a dropped iterator would outlive its workers.
        nothing: list[dict[str, Any]] = []
        return (record for record in nothing)

    def __next__(self) -> dict[str, Any]:
        while self._position >= len(self._page):
            self._page, self._position = self._next_page(), 0
        record = self._page[self._position]
        self._position += 1
        return record

    def _next_page(self) -> list[dict[str, Any]]:
        crew = self._crew
        if not self._started and not crew.stopped.is_set():
            self._started = True
            crew.start()
        while self._running:
            if os.getpid() != self._pid:
                raise StripeError("A parallel Stripe listing cannot go on in a forked process.")
            try:
                item = crew.pages.get(timeout=0.1)
            except queue.Empty:
                if crew.stopped.is_set() and crew.pages.empty():
                    break  # closed, from this thread or another one
                continue
            if item is None:
                self._running -= 1
            elif isinstance(item, BaseException):
                self.close()
                raise item
            elif item:
                self._count_page(len(item))
                return item
        self._running = 0
        crew.stop()
        raise StopIteration

    def close(self) -> None:
        """Stop iterating and stop the workers (waiting up to a second for them); any thread may call it."""
        self._running, self._page, self._position = 0, [], 0
        self._crew.stop(wait=1.0)

    def __del__(self) -> None:
        crew: _Crew | None = getattr(self, "_crew", None)
        if crew is not None:
            crew.stop()
