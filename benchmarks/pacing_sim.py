"""Simulate clients sharing one Stripe rate limit, driving the provider's own pacing.

A discrete-event simulation, in simulated time (a 90-second export takes a fraction
of a second): ``clients`` independent clients, each with ``parallelism`` workers and
its own :class:`airflow_provider_stripe.api.pacing.Rate` (the class the client uses, with
explicit times), export ``pages`` pages each against a server that answers after
``latency`` seconds and refuses what is over ``limit`` per second, counted by a
sliding second or a token bucket, with ``tests/stripe_server.py``'s own count. A 429 is
retried after the client's jittered backoff. Used to explore pacing constants before
the real, slower benchmark (``run.py --only 6``) measures a candidate::

    python benchmarks/pacing_sim.py                     # the current constants
    python benchmarks/pacing_sim.py DECREASE=0.5 INCREASE=0.02

It prints, per scenario, the median over seeds of: pages per second as a share of the
limit, the share of requests answered 429, and how far apart the clients finished.
"""

from __future__ import annotations

import heapq
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_stripe.api import pacing
from airflow_provider_stripe.api.retries import INITIAL_BACKOFF, MAX_BACKOFF
from tests.stripe_server import Limit


def simulate(
    *,
    clients: int = 4,
    parallelism: int = 4,
    pages: int = 515,
    limit: int = 25,
    burst: int | None = None,
    latency: float = 0.2,
    mode: str = "test",
    seed: int = 0,
) -> dict[str, float]:
    """One run; the clients start together with default pacing for a ``mode`` key."""
    rng = random.Random(seed)
    ceiling = pacing.default_rate(mode)
    rates = [
        pacing.Rate("all requests", ceiling * pacing.START_FRACTION, ceiling, slow_start=True, now=0.0)
        for _ in range(clients)
    ]
    left = [pages] * clients
    in_flight = [0] * clients
    done = [0.0] * clients
    count = Limit()  # the test server's own count of the limit
    events: list[tuple[float, int, str, int, int, float]] = []
    order = 0
    requests = limited = 0

    def push(at: float, kind: str, client: int, attempt: int = 0, sent: float = 0.0) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, client, attempt, sent))

    for client in range(clients):
        for _ in range(parallelism):
            push(rng.uniform(0, 0.002), "want", client)
    while events:
        at, _, kind, client, attempt, sent = heapq.heappop(events)
        rate = rates[client]
        if kind == "want":  # a worker asks for a slot (a new page, or a retry)
            if attempt == 0:
                if left[client] - in_flight[client] <= 0:
                    continue  # nothing left for this worker
                in_flight[client] += 1
            push(max(at, rate.reserve(at)), "send", client, attempt)
        elif kind == "send":
            late = rate.wait_to_send(at)
            if late > 0:
                push(at + late, "send", client, attempt)
                continue
            rate.sent(at)
            arrive = at + rng.uniform(0.0005, 0.003)
            over = count.full(arrive, limit, burst)
            if not over:
                count.admit(arrive, burst)
            requests += 1
            limited += over
            push(at + latency + rng.uniform(0.001, 0.01), "429" if over else "200", client, attempt, at)
        elif kind == "429":
            rate.cut(sent, at)
            backoff = min(INITIAL_BACKOFF * 2**attempt, MAX_BACKOFF) * rng.uniform(0.5, 1.0)
            push(at + backoff, "want", client, attempt + 1)
        else:
            in_flight[client] -= 1
            left[client] -= 1
            if left[client] == 0:
                done[client] = at
            push(at, "want", client)
    return {
        "share": clients * pages / max(done) / limit,
        "limited": limited / requests,
        "apart": max(done) - min(done),
    }


SCENARIOS = {
    "4 clients × 4 workers, token bucket 25": {"burst": 25},
    "4 clients × 4 workers, sliding second": {},
    "2 clients × 4 workers, token bucket 25": {"clients": 2, "pages": 1030, "burst": 25},
    "8 clients × 4 workers, token bucket 25": {"clients": 8, "pages": 257, "burst": 25},
    "4 clients × 16 workers, token bucket 25": {"parallelism": 16, "burst": 25},
    "live key, 4 clients × 8 workers, overall bucket 100": {
        "parallelism": 8,
        "pages": 2000,
        "limit": 100,
        "burst": 100,
        "mode": "live",
    },
}


def main() -> None:
    for item in sys.argv[1:]:
        name, _, value = item.partition("=")
        assert hasattr(pacing, name), f"pacing has no {name}"
        setattr(pacing, name, float(value))
    for name, scenario in SCENARIOS.items():
        runs = [simulate(seed=seed, **scenario) for seed in range(10)]  # type: ignore[arg-type]
        print(
            f"{name:45s} {statistics.median(r['share'] for r in runs):6.1%} of the limit, "
            f"{statistics.median(r['limited'] for r in runs):5.1%} 429s, "
            f"clients finished {statistics.median(r['apart'] for r in runs):4.0f} s apart"
        )


if __name__ == "__main__":
    main()
