"""Change capture: the latest state of every object changed in a window, read from Stripe's events.

Listing by ``created`` finds new objects only. Every create, update and delete of
an object also emits an event (``customer.created``, ``customer.updated``,
``customer.deleted``) that Stripe keeps 30 days, so reading a window's events and
keeping the last one per object gives exactly what a table needs to stay equal to
Stripe: one upsert or delete per changed object, for a cost proportional to the
changes, not to the account. No HTTP here: the events come from
:meth:`StripeClient.iterate`, refetches from :meth:`StripeClient.retrieve_many`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import Any

from airflow_provider_stripe.client import ListIterator, StripeClient
from airflow_provider_stripe.exceptions import StripeResponseError
from airflow_provider_stripe.resources import Resource

log = logging.getLogger(__name__)

#: The key every change record carries its provenance under. Stripe's own fields never
#: start with an underscore, so it cannot clobber one.
EVENT_KEY = "_stripe_event"


class ChangeIterator(Iterator[dict[str, Any]]):
    """One record per object changed in a ``created`` window: its latest state, or its deletion.

    The window's events are read first (all of them: the last one per object is
    only known at the end), then one record per object is handed out, oldest
    change first:

    - the object as the last event shows it (``data.object``), or with
      ``refetch`` as its own endpoint shows it now, in the connection's API
      version and with ``expand``;
    - ``{"id": …, "object": …, "deleted": true}`` when the last event deleted it
      (or a refetch finds it deleted or gone).

    Every record carries ``_stripe_event``: ``{"id", "type", "created",
    "api_version", "refetched"}`` of the event that decided it.

    Which event is last: the one with the greatest ``created``; among events of
    one object in the same second, the one Stripe lists first (its list is newest
    first, and list order is the only order Stripe gives within a second; event
    ids are random, so they cannot break the tie). Parallel listing keeps that
    order: a second is never split between workers, and one worker's pages
    arrive in order. Memory: one event per changed object.
    """

    def __init__(
        self,
        client: StripeClient,
        resource: Resource,
        events: ListIterator,
        *,
        window: tuple[int, int],
        refetch: bool = False,
        params: dict[str, Any] | None = None,
        parallelism: int = 1,
    ) -> None:
        self.client = client
        self.resource = resource
        #: The resource's list path, as :attr:`ListIterator.collection`.
        self.collection = resource.path
        self.events = events
        #: The half-open ``[start, end)`` of Unix seconds whose changes this reads.
        self.window = window
        self.refetch = refetch
        self.params = params or {}
        self.parallelism = parallelism
        self.has_more = False
        self.changed = 0
        self.upserts = 0
        self.deletes = 0
        self.started = time.monotonic()
        self._first_request = client.stats.requests
        self._first_retry = client.stats.retries
        self._types = set(resource.change_event_types)
        self._records = self._generate()

    def __next__(self) -> dict[str, Any]:
        return next(self._records)

    def __enter__(self) -> ChangeIterator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop: no further event or object is fetched."""
        self._records.close()
        self.events.close()

    @property
    def records(self) -> int:
        """Records handed out so far (upserts and deletes)."""
        return self.upserts + self.deletes

    @property
    def requests(self) -> int:
        """HTTP requests sent (events pages, refetches and retries)."""
        return self.client.stats.requests - self._first_request

    @property
    def retries(self) -> int:
        return self.client.stats.retries - self._first_retry

    def summary(self) -> str:
        """Events, changed objects, upserts, deletes, requests and time, for the task log."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        refetched = ", refetched" if self.refetch else ""
        return (
            f"{self.events.records} events in {self.events.pages} pages -> {self.changed} changed "
            f"{self.resource.path} ({self.upserts} upserts, {self.deletes} deletes{refetched}); "
            f"{self.requests} requests, {self.retries} retries, {elapsed:.1f}s"
        )

    def _latest(self) -> list[dict[str, Any]]:
        """The last event of every object, oldest first."""
        latest: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
        with self.events as events:
            for arrival, event in enumerate(events):
                object_id = self._check(event)
                order = (event["created"], -arrival)  # newest first: an earlier arrival is later
                current = latest.get(object_id)
                if current is None or order > current[0]:
                    latest[object_id] = (order, event)
        log.info(
            "Stripe %s changes in [%d, %d): %s events, %d objects changed",
            self.resource.path,
            *self.window,
            self.events.records,
            len(latest),
        )
        return [event for _, event in sorted(latest.values(), key=lambda item: item[0])]

    def _check(self, event: dict[str, Any]) -> str:
        """The id of the object an event is about; a malformed event is a malformed answer."""
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        problem = None
        start, end = self.window
        created = event.get("created")
        if event.get("type") not in self._types:
            problem = f"its type {event.get('type')!r} was not asked for"
        elif not isinstance(created, int) or isinstance(created, bool) or not start <= created < end:
            problem = f"its created {created!r} is not a second of the window asked for"
        elif not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
            problem = "it has no data.object with an id"
        elif obj.get("object") != self.resource.object:
            problem = f"its data.object is a {obj.get('object')!r}, not a {self.resource.object!r}"
        if problem is not None or obj is None:
            raise StripeResponseError(f"Stripe listed event {event.get('id')!r}, but {problem}")
        object_id: str = obj["id"]
        return object_id

    def _record(self, event: dict[str, Any], obj: dict[str, Any] | None, refetched: bool) -> dict[str, Any]:
        provenance = {
            "id": event["id"],
            "type": event["type"],
            "created": event["created"],
            "api_version": event.get("api_version"),
            "refetched": refetched,
        }
        if obj is None or obj.get("deleted") or event["type"] == self.resource.deleted_event_type:
            self.deletes += 1
            object_id = event["data"]["object"]["id"]
            return {"id": object_id, "object": self.resource.object, "deleted": True, EVENT_KEY: provenance}
        self.upserts += 1
        return {**obj, EVENT_KEY: provenance}

    def _generate(self) -> Generator[dict[str, Any], None, None]:
        last_events = self._latest()
        self.changed = len(last_events)
        if not self.refetch:
            for event in last_events:
                yield self._record(event, event["data"]["object"], refetched=False)
            return
        deleted = self.resource.deleted_event_type
        wanted = [event["data"]["object"]["id"] for event in last_events if event["type"] != deleted]
        current = self.client.retrieve_many(
            self.resource.path,
            wanted,
            self.params,
            id_param=self.resource.id_param,
            parallelism=self.parallelism,
            missing_ok=True,
        )
        try:
            for event in last_events:
                if event["type"] == deleted:
                    yield self._record(event, None, refetched=False)
                    continue
                obj = next(current)
                object_id = event["data"]["object"]["id"]
                if obj is not None and obj.get("id") != object_id:
                    raise StripeResponseError(
                        f"Stripe answered a request for {self.resource.object} {object_id!r} "
                        f"with {obj.get('id')!r}"
                    )
                yield self._record(event, obj, refetched=True)
        finally:
            current.close()
