"""Change capture: the latest state of every object changed in a window, read from Stripe's events.

Listing by ``created`` finds new objects only. Every create, update and delete of
an object also emits an event (``customer.created``, ``customer.updated``,
``customer.deleted``) that Stripe keeps 30 days, so reading a window's events and
keeping the last one per object gives exactly what a table needs to stay equal to
Stripe: one upsert or delete per changed object, for a cost proportional to the
changes, not to the account. No HTTP here: the events come from
:meth:`~airflow_provider_stripe.api.client.StripeClient.iterate_each`, refetches from
:meth:`~airflow_provider_stripe.api.client.StripeClient.retrieve_many`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_stripe.api.pagination import ListIterator, Records
from airflow_provider_stripe.api.registry import Resource
from airflow_provider_stripe.api.responses import short, text_or_none
from airflow_provider_stripe.exceptions import StripeResponseError

if TYPE_CHECKING:
    from airflow_provider_stripe.api.client import StripeClient

log = logging.getLogger(__name__)

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
#: The key every change record carries its provenance under. Stripe's own fields never
#: start with an underscore, so it cannot clobber one.
EVENT_KEY = "_stripe_event"


@dataclass(frozen=True)
class _LastEvent:
    """What is kept of an object's last event so far: never its payload's history, only the object."""

    order: tuple[int, int]
    object_id: str
    event_id: str
    type: str
    created: int
    api_version: str | None
    #: ``data.object`` as compact JSON (a fifth of the memory of the dict), kept only when the
    #: record will be built from it.
    obj: str | None


class ChangeIterator(Records):
    """One record per object changed in a ``created`` window: its latest state, or its deletion.

    The window's events are read first (all of them: the last one per object is
    only known at the end), then one record per object is handed out, oldest
    change first:

    - the object as the last event shows it (``data.object``), or with
      ``refetch`` as its own endpoint shows it now, in the connection's API
      version and with ``expand``;
    - ``{"id": …, "object": …, "deleted": true}`` when the last event deleted it
      (or a refetch finds it deleted).

    Every record carries ``_stripe_event``: ``{"id", "type", "created",
    "api_version", "refetched"}`` of the event that decided it.

    Which event is last: the one with the greatest ``created``; among events of
    one object in the same second, the one Stripe lists first (its list is newest
    first, and list order is the only order Stripe gives within a second; event
    ids are random, so they cannot break the tie). Parallel listing keeps that
    order: a second is never split between workers, and one worker's pages
    arrive in order. Memory: one object per changed object (only its id and
    event with ``refetch``).

    Reading starts once ``not_before`` (Unix time) has passed: a window that ends
    less than the settle time ago waits for it, so that events of its last
    seconds are listed.
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
        not_before: float = 0.0,
    ) -> None:
        super().__init__(client)
        self.resource = resource
        #: The resource's list path (as a list iterator's ``collection``).
        self.collection = resource.path
        self.events = events
        #: The half-open ``[start, end)`` of Unix seconds whose changes this reads.
        self.window = window
        self.refetch = refetch
        self.params = params or {}
        self.parallelism = parallelism
        self.not_before = not_before
        self.has_more = False
        self.changed = 0
        self.upserts = 0
        self.deletes = 0
        self._types = set(resource.change_event_types)
        # Records are handed out by __next__, not by a generator method: its frame would hold
        # this iterator in a reference cycle, and a dropped iterator would keep refetching.
        self._last: list[_LastEvent] | None = None
        self._position = 0
        self._current: Generator[dict[str, Any] | None, None, None] | None = None
        self._closed = False

    def __next__(self) -> dict[str, Any]:
        if self._closed:
            raise StopIteration
        if self._last is None:
            self._last = self._read_events()
            self.changed = len(self._last)
            if self.refetch:
                wanted = [last.object_id for last in self._last if not self._deleted(last)]
                self._current = self.client.retrieve_many(
                    self.resource.path,
                    wanted,
                    self.params,
                    id_param=self.resource.id_param,
                    parallelism=self.parallelism,
                    missing_ok=not self.resource.retrieves_deleted,
                )
        if self._position >= len(self._last):
            self.close()
            raise StopIteration
        last = self._last[self._position]
        self._position += 1
        if self._deleted(last) or self._current is None:
            return self._record(last, None if last.obj is None else json.loads(last.obj), refetched=False)
        obj = next(self._current)
        if obj is not None and obj.get("id") != last.object_id:
            raise StripeResponseError(
                self.client.redact(
                    f"Stripe answered a request for {self.resource.object} {last.object_id!r} "
                    f"with {short(obj.get('id'))}"
                )
            )
        return self._record(last, obj, refetched=True)

    def close(self) -> None:
        """Stop: no further event or object is fetched (refetches in flight are abandoned)."""
        self._closed = True
        if self._current is not None:
            self._current.close()
        self.events.close()

    def __del__(self) -> None:
        current = getattr(self, "_current", None)
        if current is not None:
            current.close()

    @property
    def records(self) -> int:
        """Records handed out so far (upserts and deletes)."""
        return self.upserts + self.deletes

    def summary(self) -> str:
        """Events, changed objects, upserts, deletes, requests and time, for the task log."""
        refetched = ", refetched" if self.refetch else ""
        return (
            f"{self.events.records} events in {self.events.pages} pages -> {self.changed} changed "
            f"{self.resource.path} ({self.upserts} upserts, {self.deletes} deletes{refetched}); "
            f"{self.requests} requests, {self.retries} retries, {self.elapsed:.1f}s"
        )

    def _deleted(self, last: _LastEvent) -> bool:
        return last.type == self.resource.deleted_event_type

    def _read_events(self) -> list[_LastEvent]:
        """The last event of every object, oldest first."""
        start, end = self.window
        if start >= end:
            return []  # nothing to read yet: the window starts within the settle margin
        wait = self.not_before - time.time()
        if wait > 0:
            log.info(
                "Stripe %s changes in [%d, %d): waiting %.0fs for the window's last events to settle",
                self.resource.path,
                start,
                end,
                wait,
            )
            time.sleep(wait)
        latest: dict[str, _LastEvent] = {}
        keep_object = not self.refetch
        with self.events as events:
            for arrival, event in enumerate(events):
                object_id = self._check(event)
                order = (event["created"], -arrival)  # newest first: an earlier arrival is later
                current = latest.get(object_id)
                if current is None or order > current.order:
                    deleted = event["type"] == self.resource.deleted_event_type
                    latest[object_id] = _LastEvent(
                        order,
                        object_id,
                        event["id"],
                        event["type"],
                        event["created"],
                        text_or_none(event.get("api_version")),
                        _COMPACT.encode(event["data"]["object"]) if keep_object and not deleted else None,
                    )
        log.info(
            "Stripe %s changes in [%d, %d): %s events, %d objects changed",
            self.resource.path,
            start,
            end,
            self.events.records,
            len(latest),
        )
        return sorted(latest.values(), key=lambda last: last.order)

    def _check(self, event: dict[str, Any]) -> str:
        """The id of the object an event is about; a malformed event is a malformed answer."""
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        problem = None
        start, end = self.window
        created = event.get("created")
        if event.get("type") not in self._types:
            problem = f"its type {short(event.get('type'))} was not asked for"
        elif not isinstance(created, int) or isinstance(created, bool) or not start <= created < end:
            problem = f"its created {short(created)} is not a second of the window asked for"
        elif not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
            problem = "it has no data.object with an id"
        elif obj.get("object") != self.resource.object:
            problem = f"its data.object is a {short(obj.get('object'))}, not a {self.resource.object!r}"
        if problem is not None or obj is None:
            message = f"Stripe listed event {short(event.get('id'))}, but {problem}"
            raise StripeResponseError(self.client.redact(message))
        object_id: str = obj["id"]
        return object_id

    def _record(self, last: _LastEvent, obj: dict[str, Any] | None, refetched: bool) -> dict[str, Any]:
        provenance = {
            "id": last.event_id,
            "type": last.type,
            "created": last.created,
            "api_version": last.api_version,
            "refetched": refetched,
        }
        if obj is None or obj.get("deleted") or self._deleted(last):
            self.deletes += 1
            return {
                "id": last.object_id,
                "object": self.resource.object,
                "deleted": True,
                EVENT_KEY: provenance,
            }
        self.upserts += 1
        return {**obj, EVENT_KEY: provenance}
