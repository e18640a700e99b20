"""Adaptive pacing: stay under Stripe's rate limits without a coordinator.

Stripe's limits belong to the account, not to one client: about 100 requests/s
in live mode and 25 in test mode overall, 25/s per endpoint by default, 20/s
for search, and a limit on requests in flight. A 429 names the one it hit in
``Stripe-Rate-Limited-Reason``. Each client paces itself with token buckets
whose rates adapt the way TCP shares a link. A client with no configured rate
starts at a quarter of its key's default and doubles every two seconds until its
first 429, which sends it back to where it started (slow start: clients starting
together on one account do not meet its limit at four times its rate, and leave
the start with equal shares). After that a 429 cuts the rate it
names (the endpoint's, or the overall one) by 10 % and the rate climbs back
additively, slowly at first and faster the longer no 429 comes: small cuts keep
the clients sharing an account at close to equal shares, so that exports split
between them end together, and a client left alone takes up what the others
left. A concurrency 429 halves the requests this client keeps in flight instead.
A rate is cut at most once per round trip: a 429 answering a request sent before
the last cut is the same congestion, already acted on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: The most a client sends, below Stripe's documented limits, when no rate is configured.
LIVE_REQUESTS_PER_SECOND = 90.0  # of about 100 overall in live mode
TEST_REQUESTS_PER_SECOND = 22.0  # of 25 overall in test mode
ENDPOINT_REQUESTS_PER_SECOND = 22.0  # of 25 per endpoint (Stripe's default)
SEARCH_REQUESTS_PER_SECOND = 18.0  # of 20 for search
#: Stripe's search limit: search is never paced faster, whatever is configured.
SEARCH_CEILING = 20.0
#: With no configured rate, a client starts at this fraction of its key's default ...
START_FRACTION = 0.25
#: ... and doubles its rate every this many seconds until its first 429 (slow start), which
#: sends it back to where it started: the same rate for every client that started together,
#: whenever its own first 429 came, so none leaves the start with a larger share.
SLOW_START_SECONDS = 2.0
#: 429s for requests sent this soon after a slow start ended are still that start's congestion
#: (clients that started together have not all had their first 429 yet): not cut again.
SETTLE_SECONDS = 1.0
#: Any later 429 multiplies the rate it names by this: a small cut, so that clients sharing
#: the account keep close to equal shares (a deep cut takes long to climb back from).
DECREASE = 0.9
#: A rate grows each second by this fraction of its ceiling ...
INCREASE = 0.0015
#: ... times ``1 + (t / ACCELERATION_SECONDS)²``, ``t`` seconds after its last 429 (or its
#: start): clients that share the limit probe slowly, and a client left alone takes up what
#: finished ones left in about a minute.
ACCELERATION_SECONDS = 20.0
ACCELERATION_POWER = 2.0
#: A concurrency 429 multiplies the requests kept in flight by this.
CONCURRENCY_DECREASE = 0.5
#: No rate is cut below this (requests per second).
MIN_RATE = 0.2
#: The most requests one client keeps in flight (its parallel workers' own limit is lower).
MAX_IN_FLIGHT = 64
#: What each ``Stripe-Rate-Limited-Reason`` slows down.
GLOBAL_RATE, ENDPOINT_RATE = "global-rate", "endpoint-rate"
CONCURRENCY = frozenset({"global-concurrency", "endpoint-concurrency"})
#: A 429 for one object (a lock on it): retried, no budget is cut.
RESOURCE_SPECIFIC = "resource-specific"


def default_rate(mode: str) -> float:
    """The overall rate a client never exceeds when none is configured, from its key's mode."""
    return LIVE_REQUESTS_PER_SECOND if mode == "live" else TEST_REQUESTS_PER_SECOND


class Rate:
    """A token bucket of capacity one whose rate adapts; callers hold the pacer's lock.

    With ``slow_start`` it doubles every 2 s until its first 429, which sends it back
    to where it started; from then on, as without ``slow_start``, it grows
    additively and each 429 cuts it by 10 %.
    """

    def __init__(
        self, name: str, start: float, ceiling: float, *, slow_start: bool = False, now: float | None = None
    ) -> None:
        self.name = name
        self.ceiling = ceiling
        self.start = self.rate = min(start, ceiling)
        self.slow_start = slow_start and self.rate < ceiling
        self._next_slot = 0.0
        self._updated = self._quiet_since = time.monotonic() if now is None else now
        self._cut_at = -math.inf
        self._last_sent = -math.inf

    def _climb(self, at: float) -> None:
        """Grow the rate for the time since it last changed (never above the ceiling)."""
        elapsed = at - self._updated
        if elapsed <= 0:
            return
        self._updated = at
        if self.rate >= self.ceiling:
            return
        if self.slow_start:  # (the exponent capped: a bucket idle for an hour must not overflow)
            self.rate *= 2.0 ** min(elapsed / SLOW_START_SECONDS, 64.0)
        else:  # the integral of INCREASE × ceiling × (1 + (t / ACCELERATION_SECONDS)^p) over the elapsed time
            end = (at - self._quiet_since) / ACCELERATION_SECONDS
            begin = end - elapsed / ACCELERATION_SECONDS
            p = ACCELERATION_POWER + 1
            self.rate += INCREASE * self.ceiling * (elapsed + ACCELERATION_SECONDS * (end**p - begin**p) / p)
        if self.rate >= self.ceiling:  # nothing left to probe: a later 429 is someone else's load
            self.rate, self.slow_start = self.ceiling, False

    def reserve(self, at: float) -> float:
        """The earliest time from ``at`` this bucket lets a request go; that slot is taken."""
        self._climb(at)
        slot = max(at, self._next_slot)
        self._next_slot = slot + 1.0 / self.rate
        return slot

    def wait_to_send(self, now: float) -> float:
        """Seconds until a request may really go: slots are reserved ahead, but a thread that woke
        late (a garbage collection, a busy machine) must not send right after another one."""
        return max(0.0, self._last_sent + 1.0 / self.rate - now)

    def sent(self, now: float) -> None:
        self._last_sent = now

    def cut(self, sent: float, now: float) -> bool:
        """Cut the rate for a 429 on a request sent at ``sent``; False if already cut since."""
        if sent < self._cut_at:
            return False
        self._climb(now)
        self._updated = self._quiet_since = now
        if self.slow_start:  # the start overshot: back to where it began
            self.rate = min(self.rate, self.start)
            self._cut_at = now + SETTLE_SECONDS  # the rest of the start's congestion is not cut again
        else:
            # The floor keeps a rate from dwindling to nothing, but never lifts it above its ceiling.
            self.rate = max(min(MIN_RATE, self.ceiling), self.rate * DECREASE)
            self._cut_at = now
        self.slow_start = False
        self._next_slot = max(self._next_slot, now + 1.0 / self.rate)
        return True


class InFlight:
    """At most ``limit`` requests at once; a concurrency 429 halves it, each success adds ``1/limit``."""

    def __init__(self, ceiling: int = MAX_IN_FLIGHT) -> None:
        self.ceiling = float(ceiling)
        self.limit = float(ceiling)
        self.count = 0
        self._cut_at = -math.inf
        self._changed = threading.Condition()

    def acquire(self, wait: Callable[[threading.Condition], object]) -> None:
        with self._changed:
            while self.count >= max(1, int(self.limit)):
                wait(self._changed)
            self.count += 1

    def release(self, ok: bool) -> None:
        with self._changed:
            self.count -= 1
            if ok and self.limit < self.ceiling:
                self.limit = min(self.ceiling, self.limit + 1.0 / self.limit)
            self._changed.notify()

    def cut(self, sent: float, now: float) -> bool:
        with self._changed:
            if sent < self._cut_at:
                return False
            self.limit = max(1.0, min(self.limit, self.count) * CONCURRENCY_DECREASE)
            self._cut_at = now
            return True


class AdaptivePacer:
    """The pacing of one client, shared by all its threads: overall, per endpoint, search, in flight.

    ``rate`` is the overall ceiling it never exceeds (None: no overall or
    per-endpoint pacing, only search's and the in-flight limit), and where it
    starts unless ``start`` is lower (a rate from the key's default starts at a
    quarter of it). The overall rate and each endpoint's slow-start from there (endpoints
    from at most 22/s: Stripe limits each to 25 by default, and an account with a
    higher limit is found by climbing); search starts at 18/s.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        start: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ceiling = rate
        self._sleep = sleep
        self._lock = threading.Lock()
        self.overall = Rate("all requests", start or rate, rate, slow_start=True) if rate else None
        self.search = Rate(
            "search",
            min(rate or SEARCH_CEILING, SEARCH_REQUESTS_PER_SECOND),
            min(rate or SEARCH_CEILING, SEARCH_CEILING),
        )
        self.endpoints: dict[str, Rate] = {}
        self.in_flight = InFlight()
        #: Every cut so far, for the task log's summary: ``{reason: count}``.
        self.slowdowns: dict[str, int] = {}

    @classmethod
    def for_key(cls, mode: str, *, sleep: Callable[[float], None] = time.sleep) -> AdaptivePacer:
        """The pacing of a client with no configured rate: its key's mode sets the ceiling, and
        it slow-starts from ``START_FRACTION`` of it."""
        ceiling = default_rate(mode)
        return cls(ceiling, start=ceiling * START_FRACTION, sleep=sleep)

    def _endpoint(self, endpoint: str, search: bool) -> Rate | None:
        if search:
            return self.search
        if self.ceiling is None:
            return None
        rate = self.endpoints.get(endpoint)
        if rate is None:
            assert self.overall is not None  # both exist when a rate is set
            start = min(self.overall.start, ENDPOINT_REQUESTS_PER_SECOND)
            rate = self.endpoints[endpoint] = Rate(endpoint, start, self.ceiling, slow_start=True)
        return rate

    def acquire(self, endpoint: str, *, search: bool = False) -> float:
        """Wait until a request to ``endpoint`` may go; return when it went (pass it to :meth:`release`).

        Every wait goes through the client's ``sleep``, so a closed parallel listing
        interrupts it: the pacing sleeps at once, a wait for an in-flight slot within 50 ms.
        """
        self.in_flight.acquire(self._wait_for_slot)
        try:
            with self._lock:
                now = time.monotonic()
                slot = self.overall.reserve(now) if self.overall else now
                bucket = self._endpoint(endpoint, search)
                if bucket is not None:
                    slot = bucket.reserve(slot)
                buckets = [b for b in (self.overall, bucket) if b is not None]
            if slot > now:
                self._sleep(slot - now)
            while True:  # spaced by when requests really went, not only by the slots handed out
                with self._lock:
                    now = time.monotonic()
                    late = max((b.wait_to_send(now) for b in buckets), default=0.0)
                    if not late:
                        for b in buckets:
                            b.sent(now)
                        return now
                self._sleep(late)
        except BaseException:
            self.in_flight.release(ok=False)
            raise

    def _wait_for_slot(self, changed: threading.Condition) -> None:
        changed.wait(0.05)
        self._sleep(0)  # the client's sleep raises at once if this thread's work was abandoned

    def release(
        self, endpoint: str, sent: float, *, search: bool = False, limited: str | None = None
    ) -> None:
        """Account for an answer: ``limited`` is the reason of a 429 (``""`` if it gave none)."""
        self.in_flight.release(ok=limited is None)
        if limited is None:
            return
        now = time.monotonic()
        reason = limited or GLOBAL_RATE  # no reason: assume the overall limit, the safe guess
        if reason == RESOURCE_SPECIFIC:
            log.warning("Stripe rate-limited a request for one object (%s); retrying it.", reason)
            return
        if reason in CONCURRENCY:
            if self.in_flight.cut(sent, now):
                with self._lock:
                    self._slowed(reason, f"at most {int(self.in_flight.limit)} requests in flight")
            return
        with self._lock:
            bucket = self._endpoint(endpoint, search) if reason == ENDPOINT_RATE or search else self.overall
            bucket = bucket or self.overall
            if bucket is not None and bucket.cut(sent, now):
                self._slowed(reason, f"{bucket.name} to {bucket.rate:.1f} requests/s")

    def _slowed(self, reason: str, what: str) -> None:
        """Count and log a slowdown (the caller holds the lock)."""
        self.slowdowns[reason] = self.slowdowns.get(reason, 0) + 1
        log.warning("Stripe answered 429 (%s): slowing %s.", reason, what)

    def summary(self) -> str:
        """The current pacing, for progress lines.

        For example ``pacing 20.5/s (invoices 10.0/s); slowed for 2× endpoint-rate``.
        """
        with self._lock:  # other threads add endpoints and slowdowns
            endpoints = [(name, rate.rate, rate.ceiling) for name, rate in self.endpoints.items()]
            slowdowns = list(self.slowdowns.items())
        if self.overall is None:
            pacing = "pacing off"
        else:
            pacing = f"pacing {self.overall.rate:.1f}/s"
            slow = [f"{name} {rate:.1f}/s" for name, rate, ceiling in endpoints if rate < ceiling]
            if slow:
                pacing += f" ({', '.join(slow)})"
        if slowdowns:
            pacing += "; slowed for " + ", ".join(f"{count}× {reason}" for reason, count in slowdowns)
        return pacing
